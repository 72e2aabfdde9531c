//! The invariant checker (`liqsim run --check`): after every event, the books and the
//! exchange check themselves (conservation, uncrossed books, balanced open interest),
//! and the kernel's own indexes are checked against them: every watched trader and every
//! keyed option holder is where its key says, and the orders in flight and their free
//! slots agree; the margin totals the time series takes from the trigger index's sums
//! equal a visit of every account, at the mark and at marks far from it. Checks live
//! here, beside the logic they watch, never inside it.

use crate::margin::Margin;
use crate::traders::Traders;
use crate::venue::Venue;
use liqsim_core::{Price, Result};

pub(crate) fn kernel(venue: &Venue, margin: &Margin, traders: &Traders, mark: Price) -> Result<()> {
    venue.exchange.check()?;
    venue.exchange.check_margin_totals(mark)?;
    venue.book.check()?;
    for book in &venue.option_books {
        book.check()?;
    }
    margin.check(&venue.exchange)?;
    traders.check()
}
