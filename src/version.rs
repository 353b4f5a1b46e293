//! The library version, as constants the C header exports as macros.
//! A test checks them against Cargo.toml, the single source of the version;
//! the header builds LOGSTASH_ASYNC_VERSION_STRING from them (cbindgen.toml).

/// Major version: incompatible ABI changes.
pub const LOGSTASH_ASYNC_VERSION_MAJOR: u32 = 0;
/// Minor version: additions.
pub const LOGSTASH_ASYNC_VERSION_MINOR: u32 = 1;
/// Patch version: fixes.
pub const LOGSTASH_ASYNC_VERSION_PATCH: u32 = 0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_constants_match_cargo_toml() {
        assert_eq!(
            LOGSTASH_ASYNC_VERSION_MAJOR.to_string(),
            env!("CARGO_PKG_VERSION_MAJOR")
        );
        assert_eq!(
            LOGSTASH_ASYNC_VERSION_MINOR.to_string(),
            env!("CARGO_PKG_VERSION_MINOR")
        );
        assert_eq!(
            LOGSTASH_ASYNC_VERSION_PATCH.to_string(),
            env!("CARGO_PKG_VERSION_PATCH")
        );
    }
}
