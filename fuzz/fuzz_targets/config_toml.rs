//! The config file (`host/src/config.rs`, compiled here from the host's own source): any text
//! parsed as `config.toml` and checked never panics; a config that passes the checks routes
//! any model id (the table always has a fallback), and writes back as TOML that reads as the
//! same config and passes the checks again (what the settings page saves is what loads).
//!
//! Input: the file's text (UTF-8; other bytes are not a config file).

#![no_main]

#[allow(dead_code)]
#[path = "../../host/src/config.rs"]
mod config;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(cfg) = toml::from_str::<config::Config>(text) else {
        return;
    };
    if cfg.validate().is_err() {
        return;
    }
    for id in ["claude-opus-4-5", "claude-haiku-4-5[1m]", "", "gpt-5.5", "vendor/m:free", text] {
        let _ = cfg.routing.route(id);
    }
    let written = toml::to_string(&cfg).expect("a checked config serializes");
    let back: config::Config = toml::from_str(&written).expect("what is written reads back");
    assert!(back.validate().is_ok(), "{written}");
    assert_eq!(back, cfg, "{written}");
});
