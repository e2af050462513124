//! `proxy-replay`: the prompt-cache replay (`proxy_fakes::replay`) as a tool; prints the
//! table docs/PERFORMANCE.md carries. Loopback only; stops by itself.
//!
//! ```text
//! cargo build -p proxy-host -p proxy-fakes
//! target/debug/proxy-replay --proxy-bin target/debug/codex-claude-proxy \
//!     --fixtures tests/fakes/fixtures/claude-code [--turns 30]
//! ```

struct Args {
    proxy_bin: String,
    fixtures: String,
    turns: usize,
}

fn args() -> Args {
    let mut a = Args {
        proxy_bin: "target/debug/codex-claude-proxy".into(),
        fixtures: "tests/fakes/fixtures/claude-code".into(),
        turns: 30,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_default();
        match k.as_str() {
            "--proxy-bin" => a.proxy_bin = v,
            "--fixtures" => a.fixtures = v,
            "--turns" => a.turns = v.parse().unwrap_or(a.turns),
            _ => {
                eprintln!("usage: proxy-replay [--proxy-bin P] [--fixtures DIR] [--turns N]");
                std::process::exit(2);
            }
        }
    }
    a
}

#[tokio::main]
async fn main() {
    let a = args();
    let rows =
        proxy_fakes::replay::run(&a.proxy_bin, std::path::Path::new(&a.fixtures), a.turns).await;
    print!("{}", proxy_fakes::replay::table(&rows));
    println!();
    print!("{}", proxy_fakes::replay::bytes_table(&rows));
}
