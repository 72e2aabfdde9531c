//! placeholder while the scenario schema is written
use std::path::Path;
pub fn load(_path: &Path, _overrides: &[String]) -> liqsim_core::Result<()> {
    Ok(())
}
