//! The soak path of `proxy-load --soak` (`proxy_fakes::load::soak`) at a tiny size through the
//! real binary, so the mode cannot rot: 20 numbered streams held for 3 s, twice on the same
//! process; every number arrives once and in order, every stream ends properly, the proxy's
//! `/metrics` shows the open streams, and its descriptors do not grow from run to run.

mod support;

use proxy_fakes::load::soak::{Options, Target, growth_verdict, run};
use proxy_fakes::{FakeConfig, FakeServer};
use std::time::Duration;
use support::{Proxy, ProxyOpts, TestAccount};

#[tokio::test(flavor = "multi_thread")]
async fn a_tiny_soak_loses_nothing_and_does_not_grow() {
    let fake = FakeServer::start(FakeConfig {
        drip_ms: 20,
        seq_total: 20,
        ..FakeConfig::default()
    })
    .await
    .expect("fake");
    let (token, _, _) = fake.issue_tokens("acct-1", "one@example.com");
    let mut opts = ProxyOpts {
        accounts: vec![TestAccount {
            account_id: "acct-1".into(),
            access_token: token,
        }],
        ..ProxyOpts::default()
    };
    // The soak's streams are not what this test reads in the log.
    opts.env.push(("CCP_LOG".into(), "warn".into()));
    let p = Proxy::start(&fake, opts);
    let target = Target {
        base: p.base.clone(),
        pid: p.pid(),
    };
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let opts = Options {
        n: 20,
        duration: Duration::from_secs(3),
        seq_total: 20,
    };
    let mut runs = Vec::new();
    for _ in 0..2 {
        let r = run(&client, &target, opts).await;
        assert!(r.completed >= 40, "{r:?}");
        assert_eq!(
            (r.failed, r.bad_ends, r.lost, r.duplicated, r.reordered),
            (0, 0, 0, 0, 0),
            "{r:?}"
        );
        assert!(r.open_streams_peak.is_some_and(|o| o > 0), "{r:?}");
        assert!(r.samples.len() >= 4 && r.peak.fds >= r.end.fds, "{r:?}");
        runs.push(r);
    }
    let (grew, text) = growth_verdict(&runs);
    assert!(!grew, "{text}");
}
