//! `proxy-fakes [--port N]`: serve all fakes until Ctrl-C, printing the base URL.

use proxy_fakes::{FakeConfig, FakeServer};

fn parse_port() -> Result<u16, String> {
    let mut args = std::env::args().skip(1);
    let mut port = 0u16;
    while let Some(a) = args.next() {
        let value = if a == "--port" {
            args.next().ok_or("--port needs a value")?
        } else if let Some(v) = a.strip_prefix("--port=") {
            v.to_string()
        } else if a == "-h" || a == "--help" {
            return Err("usage: proxy-fakes [--port N]".into());
        } else {
            return Err(format!(
                "unknown argument {a}; usage: proxy-fakes [--port N]"
            ));
        };
        port = value.parse().map_err(|_| format!("bad port: {value}"))?;
    }
    Ok(port)
}

#[tokio::main]
async fn main() {
    let port = match parse_port() {
        Ok(p) => p,
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(2);
        }
    };
    let server = match FakeServer::start_on(FakeConfig::default(), port).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("proxy-fakes: cannot bind 127.0.0.1:{port}: {e}");
            std::process::exit(1);
        }
    };
    println!("{}", server.base_url());
    let _ = tokio::signal::ctrl_c().await;
}
