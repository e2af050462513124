//! The soak mode: `proxy_fakes::load::soak` runs, one after another on the same proxy
//! process, printed as a table and a verdict on growth.

use crate::{Args, setup};
use proxy_fakes::FakeConfig;
use proxy_fakes::load::procfs::Resources;
use proxy_fakes::load::soak::{Options, RunReport, Target, growth_verdict, run};
use std::time::Duration;

fn triple(r: &RunReport, f: fn(&Resources) -> f64, digits: usize) -> String {
    format!(
        "{:.digits$} / {:.digits$} / {:.digits$}",
        f(&r.start),
        f(&r.peak),
        f(&r.end)
    )
}

fn print_row(i: usize, r: &RunReport) {
    println!(
        "| {} | {} | {} | {} / {} / {} | {} | {} | {} | {} | {} |",
        i + 1,
        r.completed,
        r.failed,
        r.lost,
        r.duplicated,
        r.reordered,
        r.bad_ends,
        triple(r, |x| x.fds as f64, 0),
        triple(r, |x| x.rss_kb as f64 / 1024.0, 1),
        triple(r, |x| x.threads as f64, 0),
        r.open_streams_peak
            .map_or("–".to_owned(), |v| v.to_string()),
    );
}

/// Every tenth sample, so a long run shows its course without a line a second.
fn print_course(i: usize, r: &RunReport) {
    let line: Vec<String> = r
        .samples
        .iter()
        .step_by(10)
        .map(|s| {
            format!(
                "{:.0}s fds {} rss {:.1} MB thr {} open {}",
                s.at,
                s.res.fds,
                s.res.rss_kb as f64 / 1024.0,
                s.res.threads,
                s.open_streams.map_or("–".to_owned(), |v| v.to_string())
            )
        })
        .collect();
    eprintln!("run {}: {}", i + 1, line.join(" | "));
}

/// The soak mode; whether the runs were clean and did not grow.
pub async fn main(a: &Args) -> bool {
    let n =
        a.ns.as_ref()
            .and_then(|v| v.first().copied())
            .unwrap_or(1000);
    let drip_ms = a.drip_ms.unwrap_or(50);
    let s = setup(
        a,
        FakeConfig {
            drip_ms,
            seq_total: a.seq_total,
            ..FakeConfig::default()
        },
    )
    .await;
    let target = Target {
        base: s.proxy.base.clone(),
        pid: s.proxy.child.id(),
    };
    let opts = Options {
        n,
        duration: Duration::from_secs(a.secs),
        seq_total: a.seq_total,
    };
    println!(
        "soak: {n} streams held for {} s, {} runs on proxy pid {}; each stream {} numbered deltas {drip_ms} ms apart (seq_drip)",
        a.secs, a.runs, target.pid, a.seq_total
    );
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(n + 16)
        .build()
        .expect("client");
    println!(
        "| run | streams completed | failed | numbers lost / duplicated / reordered | bad ends | fds start / peak / end | RSS MB start / peak / end | threads start / peak / end | open streams peak (/metrics) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut reports = Vec::new();
    for i in 0..a.runs {
        let r = run(&client, &target, opts).await;
        print_row(i, &r);
        print_course(i, &r);
        // The fake would otherwise keep every request of every run.
        s.fake.forget_requests();
        reports.push(r);
    }
    let (grew, text) = growth_verdict(&reports);
    let clean = reports
        .iter()
        .all(|r| r.failed + r.bad_ends + r.lost + r.duplicated + r.reordered == 0);
    println!("verdict: {text}");
    println!(
        "verdict: {}",
        if clean {
            "every number of every stream arrived once and in order; every stream ended properly"
        } else {
            "STREAMS DAMAGED (see the table)"
        }
    );
    !grew && clean
}
