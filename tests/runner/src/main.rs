//! WASI command module: a job as JSON on stdin, the result as JSON on stdout.

#![forbid(unsafe_code)]

use std::io::{Read, Write};

fn main() {
    let mut input = String::new();
    if std::io::stdin().read_to_string(&mut input).is_err() {
        std::process::exit(2);
    }
    let out = proxy_vector_runner::run_json(&input);
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        std::process::exit(3);
    }
}
