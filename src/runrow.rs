//! One row per run for sweeps and comparisons: the figures of an [`Outcome`] that
//! aggregate across seeds, in a fixed CSV layout that `merge` can read back.
//!
//! Money columns are exact decimals in quote units (from `Money`'s text form); float
//! columns have six decimals; an absent figure is an empty field.

use liqsim_core::{Error, Money};
use liqsim_sim::Outcome;

/// Metric columns, after the run's index, grid point, grid values and seed.
pub const METRIC_COLUMNS: [&str; 18] = [
    "digest",
    "events",
    "liquidation_count",
    "liquidated_notional",
    "bad_debt",
    "insurance_fund_min",
    "fund_drawdown",
    "fund_exhausted",
    "adl_count",
    "adl_notional",
    "socialized_loss",
    "solvent",
    "max_depth",
    "amplification",
    "waves",
    "mean_initial_margin",
    "peak_initial_margin",
    "procyclicality",
];

#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    pub index: usize,
    pub point: usize,
    pub grid_values: Vec<String>,
    pub seed: u64,
    pub digest: String,
    pub events: u64,
    pub liquidation_count: u64,
    pub liquidated_notional: Money,
    pub bad_debt: Money,
    pub insurance_fund_min: Money,
    /// The fund's fall from its start to its lowest (`liqsim_report::fund_drawdown`).
    pub fund_drawdown: Money,
    pub fund_exhausted: bool,
    pub adl_count: u64,
    pub adl_notional: Money,
    pub socialized_loss: Money,
    pub solvent: bool,
    pub max_depth: u32,
    pub amplification: Option<f64>,
    pub waves: u32,
    pub mean_initial_margin: Money,
    pub peak_initial_margin: Money,
    /// Peak over pre-stress initial margin of a constant small position, as the run
    /// summary's; absent when the pre-stress rate is zero.
    pub procyclicality: Option<f64>,
}

impl RunRow {
    pub fn from_outcome(
        index: usize,
        point: usize,
        grid_values: Vec<String>,
        o: &Outcome,
    ) -> RunRow {
        let m = o.margin;
        RunRow {
            index,
            point,
            grid_values,
            seed: o.seed,
            digest: o.digest.clone(),
            events: o.events,
            liquidation_count: o.liquidations.count,
            liquidated_notional: o.liquidations.notional,
            bad_debt: o.bad_debt,
            insurance_fund_min: o.insurance_fund.min,
            fund_drawdown: liqsim_report::fund_drawdown(o),
            fund_exhausted: o.fund_exhausted.is_some(),
            adl_count: o.adl.count,
            adl_notional: o.adl.notional,
            socialized_loss: o.socialized_loss,
            solvent: o.solvent,
            max_depth: o.cascade.max_depth,
            amplification: o.cascade.amplification,
            waves: o.cascade.waves,
            mean_initial_margin: m.mean_initial,
            peak_initial_margin: m.peak_initial,
            procyclicality: liqsim_report::procyclicality(o),
        }
    }

    pub fn header(grid_keys: &[String]) -> Vec<String> {
        let mut h = vec!["index".to_string(), "point".to_string()];
        h.extend(grid_keys.iter().cloned());
        h.push("seed".into());
        h.extend(METRIC_COLUMNS.iter().map(|c| c.to_string()));
        h
    }

    pub fn fields(&self) -> Vec<String> {
        let float = |v: Option<f64>| v.map(|x| format!("{x:.6}")).unwrap_or_default();
        let mut f = vec![self.index.to_string(), self.point.to_string()];
        f.extend(self.grid_values.iter().cloned());
        f.push(self.seed.to_string());
        f.extend([
            self.digest.clone(),
            self.events.to_string(),
            self.liquidation_count.to_string(),
            self.liquidated_notional.to_string(),
            self.bad_debt.to_string(),
            self.insurance_fund_min.to_string(),
            self.fund_drawdown.to_string(),
            self.fund_exhausted.to_string(),
            self.adl_count.to_string(),
            self.adl_notional.to_string(),
            self.socialized_loss.to_string(),
            self.solvent.to_string(),
            self.max_depth.to_string(),
            float(self.amplification),
            self.waves.to_string(),
            self.mean_initial_margin.to_string(),
            self.peak_initial_margin.to_string(),
            float(self.procyclicality),
        ]);
        f
    }

    /// Reads a row back; `source` names the file in errors.
    pub fn parse(fields: &[String], grid_len: usize, source: &str) -> Result<RunRow, Error> {
        let expected = 3 + grid_len + METRIC_COLUMNS.len();
        let bad = |what: &str| -> Error {
            liqsim_core::InputError::new(format!(
                "not a run row written by this version of liqsim ({what})"
            ))
            .source(source)
            .into()
        };
        if fields.len() != expected {
            return Err(bad(&format!("{} fields, expected {expected}", fields.len())));
        }
        let mut it = fields.iter();
        let mut next = || it.next().map(String::as_str).unwrap_or("");
        fn num<T: std::str::FromStr>(text: &str, bad: &dyn Fn(&str) -> Error) -> Result<T, Error> {
            text.parse().map_err(|_| bad(&format!("`{text}` is not a number")))
        }
        let money = |text: &str| {
            Money::from_decimal(text).map_err(|_| bad(&format!("`{text}` is not money")))
        };
        let flag = |text: &str| match text {
            "true" => Ok(true),
            "false" => Ok(false),
            other => Err(bad(&format!("`{other}` is not true/false"))),
        };
        let opt = |text: &str| -> Result<Option<f64>, Error> {
            if text.is_empty() { Ok(None) } else { num::<f64>(text, &bad).map(Some) }
        };
        let index = num(next(), &bad)?;
        let point = num(next(), &bad)?;
        let grid_values = (0..grid_len).map(|_| next().to_string()).collect();
        Ok(RunRow {
            index,
            point,
            grid_values,
            seed: num(next(), &bad)?,
            digest: next().to_string(),
            events: num(next(), &bad)?,
            liquidation_count: num(next(), &bad)?,
            liquidated_notional: money(next())?,
            bad_debt: money(next())?,
            insurance_fund_min: money(next())?,
            fund_drawdown: money(next())?,
            fund_exhausted: flag(next())?,
            adl_count: num(next(), &bad)?,
            adl_notional: money(next())?,
            socialized_loss: money(next())?,
            solvent: flag(next())?,
            max_depth: num(next(), &bad)?,
            amplification: opt(next())?,
            waves: num(next(), &bad)?,
            mean_initial_margin: money(next())?,
            peak_initial_margin: money(next())?,
            procyclicality: opt(next())?,
        })
    }
}

impl RunRow {
    /// The figures the HTML reports draw.
    pub fn figures(&self) -> liqsim_report::RunFigures {
        liqsim_report::RunFigures {
            seed: self.seed,
            bad_debt: self.bad_debt,
            fund_drawdown: self.fund_drawdown,
            fund_exhausted: self.fund_exhausted,
            liquidation_count: self.liquidation_count,
            liquidated_notional: self.liquidated_notional,
            adl_notional: self.adl_notional,
            socialized_loss: self.socialized_loss,
            max_depth: self.max_depth,
            amplification: self.amplification,
            mean_initial_margin: self.mean_initial_margin,
            peak_initial_margin: self.peak_initial_margin,
            procyclicality: self.procyclicality,
        }
    }
}

/// One CSV record as text (with its newline), quoted where needed.
pub fn csv_line(fields: &[String]) -> Result<String, Error> {
    let mut writer =
        csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
    writer.write_record(fields).map_err(|e| Error::Internal(format!("csv: {e}")))?;
    let bytes = writer.into_inner().map_err(|e| Error::Internal(format!("csv: {e}")))?;
    String::from_utf8(bytes).map_err(|e| Error::Internal(format!("csv: {e}")))
}

#[cfg(test)]
pub mod tests {
    use super::*;

    pub fn sample_row(index: usize) -> RunRow {
        RunRow {
            index,
            point: index / 2,
            grid_values: vec!["es".into(), "0.99".into()],
            seed: 7 + index as u64 % 2,
            digest: format!("{index:032x}"),
            events: 1000 + index as u64,
            liquidation_count: 3,
            liquidated_notional: Money::from_micros(123_456_789),
            bad_debt: Money::from_micros(index as i64 * 1_000_001),
            insurance_fund_min: Money::from_micros(-5),
            fund_drawdown: Money::from_micros(1_500_000),
            fund_exhausted: index.is_multiple_of(3),
            adl_count: 1,
            adl_notional: Money::ZERO,
            socialized_loss: Money::ZERO,
            solvent: !index.is_multiple_of(3),
            max_depth: 2,
            amplification: if index == 0 { None } else { Some(1.25) },
            waves: 1,
            mean_initial_margin: Money::from_micros(10_000_000 + index as i64),
            peak_initial_margin: Money::from_micros(20_000_000),
            procyclicality: Some(2.0),
        }
    }

    #[test]
    fn rows_round_trip_through_csv_text() {
        for i in 0..4 {
            let row = sample_row(i);
            let line = csv_line(&row.fields()).unwrap();
            let mut reader =
                csv::ReaderBuilder::new().has_headers(false).from_reader(line.as_bytes());
            let record = reader.records().next().unwrap().unwrap();
            let fields: Vec<String> = record.iter().map(str::to_string).collect();
            assert_eq!(RunRow::parse(&fields, 2, "x").unwrap(), row);
        }
        assert_eq!(RunRow::header(&["a".into()]).len(), 3 + 1 + METRIC_COLUMNS.len());
        assert!(RunRow::parse(&["1".into()], 2, "x").is_err());
    }
}
