//! `liqsim risk`: VaR or ES of a distribution (normal, Student-t) or of a P&L file.
//!
//! Convention (the one of liqsim-risk): the measure is of the loss, the negative of P&L,
//! and a loss is a positive number. VaR at alpha is the alpha-quantile of the loss (on a
//! sample the ceil(n alpha)-th smallest loss); ES at alpha is the Acerbi-Tasche mean of
//! the worst n (1 - alpha) losses, the boundary observation counted by its fraction.
//! `--dist t:NU` is the standard Student-t with NU degrees of freedom (not the
//! unit-variance one), moved by `--mu` and scaled by `--sigma`; both describe the P&L,
//! so the loss has mean -mu. A P&L file holds one number per line, or a CSV with a header
//! that has a `pnl` column; blank lines are skipped; anything else is bad input naming
//! the file and line.

use crate::CliResult;
use liqsim_core::{Error, InputError};
use liqsim_risk::measures;

#[derive(Debug, clap::Args)]
pub struct RiskArgs {
    /// Risk measure.
    #[arg(long, value_parser = ["var", "es"])]
    pub measure: String,
    /// Confidence level, in (0, 1), e.g. 0.99.
    #[arg(long, allow_negative_numbers = true)]
    pub alpha: f64,
    /// Distribution of the P&L: `normal` or `t:NU` (NU > 1 for ES, > 0 for VaR).
    #[arg(long, conflicts_with = "pnl", required_unless_present = "pnl")]
    pub dist: Option<String>,
    /// Mean of the P&L distribution (with --dist); default 0.
    #[arg(long, allow_negative_numbers = true, requires = "dist")]
    pub mu: Option<f64>,
    /// Scale of the P&L distribution (with --dist), > 0; default 1.
    #[arg(long, allow_negative_numbers = true, requires = "dist")]
    pub sigma: Option<f64>,
    /// File of P&L values: one per line, or a CSV with a `pnl` column.
    #[arg(long)]
    pub pnl: Option<std::path::PathBuf>,
    /// Output format on stdout.
    #[arg(long, value_parser = ["table", "json"], default_value = "table")]
    pub format: String,
}

fn bad(flag: &str, message: String, expected: &str) -> Error {
    InputError::new(message).source(flag.to_string()).expected(expected.to_string()).into()
}

/// Degrees of freedom from `t:NU`.
fn parse_dist(dist: &str, measure: &str) -> Result<Option<f64>, Error> {
    const EXPECTED: &str = "`normal` or `t:NU` with NU a number > 0 (> 1 for es), at most 1e6";
    if dist == "normal" {
        return Ok(None);
    }
    let Some(nu) = dist.strip_prefix("t:") else {
        return Err(bad("--dist", format!("unknown distribution `{dist}`"), EXPECTED));
    };
    let nu: f64 = nu.trim().parse().map_err(|_| {
        bad("--dist", format!("degrees of freedom `{nu}` is not a number"), EXPECTED)
    })?;
    let min = if measure == "es" { 1.0 } else { 0.0 };
    if !(nu.is_finite() && nu > min && nu <= 1e6) {
        return Err(bad("--dist", format!("degrees of freedom {nu} is out of range"), EXPECTED));
    }
    Ok(Some(nu))
}

/// P&L values of `path`: one number per line, or a CSV column `pnl`.
fn read_pnl(path: &std::path::Path) -> Result<Vec<f64>, Error> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::from(
            InputError::new(format!("cannot read P&L file: {e}"))
                .source(name.clone())
                .expected("a readable text file"),
        )
    })?;
    let mut column: Option<usize> = None;
    let mut values = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let first_content = values.is_empty() && column.is_none();
        if first_content && (fields.len() > 1 || fields[0].parse::<f64>().is_err()) {
            // A header: the `pnl` column is the one to read.
            let Some(c) = fields.iter().position(|f| f.trim_matches('"') == "pnl") else {
                return Err(InputError::new("header has no `pnl` column")
                    .source(name)
                    .at(i + 1, 1)
                    .expected("one number per line, or a CSV header with a `pnl` column")
                    .into());
            };
            column = Some(c);
            continue;
        }
        let c = column.unwrap_or(0);
        let field = fields.get(c).copied().unwrap_or("");
        match field.parse::<f64>() {
            Ok(v) if v.is_finite() => values.push(v),
            _ => {
                return Err(InputError::new(format!("`{field}` is not a finite number"))
                    .source(name)
                    .at(i + 1, 1)
                    .key("pnl")
                    .expected("a finite decimal number")
                    .into());
            }
        }
    }
    if values.is_empty() {
        return Err(InputError::new("no P&L values")
            .source(name)
            .expected("at least one number")
            .into());
    }
    Ok(values)
}

/// A number as a person wrote it: plain in the usual range, in exponent form beyond.
fn short(x: f64) -> String {
    if x != 0.0 && !(1e-4..1e6).contains(&x.abs()) { format!("{x:e}") } else { format!("{x}") }
}

/// The farthest tail `--alpha` may ask for, on either side.
const ALPHA_MIN: f64 = 1e-12;

pub fn run(args: &RiskArgs) -> CliResult {
    let alpha = args.alpha;
    // Beyond a 1e-12 tail a quantile means nothing, and the Student-t quantile's inverse
    // incomplete beta function fails far before f64 runs out (at 1e-200).
    if !(alpha.is_finite() && (ALPHA_MIN..=1.0 - ALPHA_MIN).contains(&alpha)) {
        return Err(bad(
            "--alpha",
            format!("--alpha {} is out of range", short(alpha)),
            "a number from 1e-12 to 1 - 1e-12",
        ));
    }
    let measure = args.measure.as_str();
    let value = match (&args.dist, &args.pnl) {
        (Some(dist), _) => {
            let mu = args.mu.unwrap_or(0.0);
            let sigma = args.sigma.unwrap_or(1.0);
            if !(mu.is_finite() && mu.abs() <= 1e15) {
                return Err(bad(
                    "--mu",
                    format!("--mu {mu} is out of range"),
                    "a number in [-1e15, 1e15]",
                ));
            }
            if !(sigma.is_finite() && sigma > 0.0 && sigma <= 1e15) {
                return Err(bad(
                    "--sigma",
                    format!("--sigma {sigma} is out of range"),
                    "a number in (0, 1e15]",
                ));
            }
            // The loss -P&L has location -mu; both distributions are symmetric.
            match (parse_dist(dist, measure)?, measure) {
                (None, "var") => measures::normal_var(alpha, -mu, sigma),
                (None, _) => measures::normal_es(alpha, -mu, sigma),
                (Some(nu), "var") => measures::t_var(alpha, nu, -mu, sigma),
                (Some(nu), _) => measures::t_es(alpha, nu, -mu, sigma),
            }
        }
        (None, Some(path)) => {
            let mut losses: Vec<f64> = read_pnl(path)?.iter().map(|p| -p).collect();
            if measure == "var" {
                measures::var(&mut losses, alpha)
            } else {
                measures::es(&mut losses, alpha)
            }
        }
        (None, None) => {
            return Err(bad(
                "--dist",
                "give --dist or --pnl".into(),
                "--dist normal|t:NU or --pnl FILE",
            ));
        }
    };
    if !value.is_finite() {
        return Err(Error::Internal(format!("{measure} at {alpha} is not finite: {value}")));
    }
    if args.format == "json" {
        println!(
            "{{\"measure\": \"{measure}\", \"alpha\": {}, \"value\": {}}}",
            serde_json::Value::from(alpha),
            serde_json::Value::from(value)
        );
    } else {
        println!("measure  {measure}\nalpha    {alpha}\nvalue    {value:.10}");
    }
    Ok(())
}
