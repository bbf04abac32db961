//! `dns:` names that move and names that rotate, through the real binaries
//! (`sync-on-schedule` and the `nlb-target-sync` command line) against moto
//! and the loopback DNS server. Rotating names answer a subset picked at
//! random for every query (seeded), as Route 53 multivalue answers do: a
//! test that rotates in order would be too kind. Run with `--nocapture` to
//! see the numbers.
//!
//! The custom resource's Update from `rds-proxy:` to `dns:` with
//! `WaitForHealthySeconds` is in `sync_on_deploy.rs`, with the other
//! `Custom::NlbTargetSync` tests.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use integration_tests::{
    ABSENT_TAG, LambdaEmulator, OperatorCli, Sandbox, TargetGroup, group_report, ipv4, scheduled_event, strings,
    succeeded, tag_value, target,
};

const RUNS: usize = 20;

/// `sync-on-schedule` with quick DNS and `extra` settings.
async fn schedule_function(sandbox: &Sandbox, extra: &[(&str, &str)]) -> LambdaEmulator {
    sandbox.function_with_quick_dns("sync-on-schedule").vars(extra).start().await
}

/// What one scheduled run did to a target group.
struct Run {
    registered: Vec<String>,
    deregistered: Vec<String>,
}

/// One scheduled run, which must succeed; what it did to `tg`.
async fn scheduled_run(lambda: &LambdaEmulator, tg: &TargetGroup) -> Run {
    let body = succeeded(&lambda.invoke(scheduled_event()).await, lambda);
    let report = group_report(&body, &tg.arn);
    Run { registered: strings(&report["registered"]), deregistered: strings(&report["deregistered"]) }
}

/// True when the group remembers its one `dns:` name as rotating (the memory
/// tag's entry starts with `r`).
async fn remembered_as_rotating(sandbox: &Sandbox, tg: &TargetGroup) -> bool {
    let tags = sandbox.aws.tags(&tg.arn).await;
    tag_value(&tags, ABSENT_TAG).is_some_and(|memory| memory.starts_with('r'))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moved_single_address_name_is_replaced_in_two_runs() {
    const NAME: &str = "primary.db.example.internal";
    let sandbox = Sandbox::start().await;
    sandbox.dns.set_a(NAME, &[ipv4("10.1.1.50")]);
    let tg = sandbox.target_group("moved", Some(&format!("dns:{NAME}"))).await;
    let lambda = schedule_function(&sandbox, &[]).await;
    scheduled_run(&lambda, &tg).await;
    assert_eq!(sandbox.aws.registered_targets(&tg.arn).await, vec![target("10.1.1.50")]);

    // The name now points at a new primary; the old one stays up (and healthy).
    sandbox.dns.set_a(NAME, &[ipv4("10.1.2.51")]);
    let mut runs = 0;
    while sandbox.aws.registered_targets(&tg.arn).await != vec![target("10.1.2.51")] {
        assert!(runs < 10, "not replaced after {runs} runs");
        let run = scheduled_run(&lambda, &tg).await;
        runs += 1;
        if runs == 1 {
            assert_eq!(run.registered.len(), 1, "the new address first");
            assert!(run.deregistered.is_empty(), "the old one stays until the new one is healthy");
        }
    }
    println!("a moved single-address name was replaced in {runs} scheduled runs");
    assert_eq!(runs, 2, "registered in the first run, the old address gone in the second");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_waiting_for_health_replaces_a_moved_name_in_one_command() {
    const NAME: &str = "primary.cli.example.internal";
    let sandbox = Sandbox::start().await;
    sandbox.dns.set_a(NAME, &[ipv4("10.1.1.52")]);
    let tg = sandbox.target_group("moved-cli", Some(&format!("dns:{NAME}"))).await;
    let cli = OperatorCli::new(&sandbox);
    assert_eq!(cli.run(&["apply", "--yes"]).await.code, 0);
    sandbox.dns.set_a(NAME, &[ipv4("10.1.2.53")]);
    sandbox.moto.health_checks().set_initial_period(Duration::from_secs(1)).await;

    let apply = cli.run(&["apply", "moved-cli", "--yes", "--wait-healthy", "30", "-o", "json"]).await;
    assert_eq!(apply.code, 0, "{}\n{}", apply.stdout, apply.stderr);
    assert_eq!(sandbox.aws.registered_targets(&tg.arn).await, vec![target("10.1.2.53")]);
}

/// Syncs a brand-new group following a name that answers `per_answer` of
/// `set` at random, `RUNS` times, and checks that it never deregistered
/// anything, holds the whole set and remembers the name as rotating. The
/// absence window is 1 s, shorter than the runs take: a rotation mistaken for
/// a loss would be removed within the test.
async fn rotating_name_over_twenty_runs(set: &[Ipv4Addr], per_answer: usize, seed: u64) {
    const NAME: &str = "readers.rr.example.internal";
    let sandbox = Sandbox::start().await;
    sandbox.dns.set_random_a(NAME, set, per_answer, seed);
    let tg = sandbox.target_group("rotating", Some(&format!("dns:{NAME}"))).await;
    let lambda = schedule_function(&sandbox, &[("NLB_SYNC_DNS_ABSENCE_SECONDS", "1")]).await;
    let started = Instant::now();
    let mut deregistered = Vec::new();
    for _ in 0..RUNS {
        deregistered.extend(scheduled_run(&lambda, &tg).await.deregistered);
    }
    println!(
        "{per_answer} of {} at random: {} deregistration(s) over {RUNS} runs from a new group ({:?})",
        set.len(),
        deregistered.len(),
        started.elapsed()
    );
    assert_eq!(deregistered, Vec::<String>::new(), "no deregistration");
    let mut everything: Vec<String> = set.iter().map(|a| target(&a.to_string())).collect();
    everything.sort();
    assert_eq!(sandbox.aws.registered_targets(&tg.arn).await, everything, "the whole set is registered");
    assert!(remembered_as_rotating(&sandbox, &tg).await, "remembered as rotating");
}

fn addresses(count: u8) -> Vec<Ipv4Addr> {
    (0..count).map(|i| Ipv4Addr::new(10, 1, 3, 80 + i)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_answering_two_of_three_never_deregisters_over_twenty_runs() {
    rotating_name_over_twenty_runs(&addresses(3), 2, 23).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_answering_one_of_three_never_deregisters_over_twenty_runs() {
    rotating_name_over_twenty_runs(&addresses(3), 1, 13).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multivalue_name_answering_eight_of_twelve_never_deregisters_over_twenty_runs() {
    rotating_name_over_twenty_runs(&addresses(12), 8, 8).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_address_leaving_a_group_with_a_rotating_name_goes_without_the_window() {
    const RR: &str = "readers.mixed.example.internal";
    let sandbox = Sandbox::start().await;
    let endpoint = sandbox.proxy_resolving_to("mixed-proxy", &["10.1.1.60", "10.1.2.61"]).await;
    sandbox.dns.set_random_a(RR, &addresses(3), 2, 5);
    let tg = sandbox.target_group("mixed", Some(&format!("dns:{RR} rds-proxy:mixed-proxy"))).await;
    // The default window: 120 s.
    let lambda = schedule_function(&sandbox, &[]).await;
    for _ in 0..3 {
        scheduled_run(&lambda, &tg).await;
    }
    assert_eq!(sandbox.aws.registered_targets(&tg.arn).await.len(), 5);
    assert!(remembered_as_rotating(&sandbox, &tg).await, "the name is known to rotate");

    // The proxy scales in.
    sandbox.dns.set_a(&endpoint, &[ipv4("10.1.1.60")]);
    let run = scheduled_run(&lambda, &tg).await;
    assert_eq!(run.deregistered, vec![target("10.1.2.61")], "at once, no window");
    assert_eq!(sandbox.aws.registered_targets(&tg.arn).await.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotating_name_that_loses_an_address_has_it_removed_within_the_window_and_two_runs() {
    const RR: &str = "readers.shrinking.example.internal";
    const WINDOW: Duration = Duration::from_secs(2);
    const INTERVAL: Duration = Duration::from_millis(500);
    let sandbox = Sandbox::start().await;
    let set = addresses(3);
    sandbox.dns.set_random_a(RR, &set, 1, 3);
    let tg = sandbox.target_group("shrinking", Some(&format!("dns:{RR}"))).await;
    let lambda = schedule_function(&sandbox, &[("NLB_SYNC_DNS_ABSENCE_SECONDS", "2")]).await;
    for _ in 0..3 {
        scheduled_run(&lambda, &tg).await;
    }
    assert_eq!(sandbox.aws.registered_targets(&tg.arn).await.len(), 3);

    // The third address leaves the name for good.
    sandbox.dns.set_random_a(RR, &set[..2], 1, 4);
    let gone_at = Instant::now();
    let mut longest_interval = INTERVAL;
    let removed_after = loop {
        let started = Instant::now();
        let run = scheduled_run(&lambda, &tg).await;
        if !run.deregistered.is_empty() {
            assert_eq!(run.deregistered, vec![target(&set[2].to_string())]);
            break gone_at.elapsed();
        }
        assert!(gone_at.elapsed() < WINDOW * 4, "still registered after {:?}", gone_at.elapsed());
        tokio::time::sleep(INTERVAL.saturating_sub(started.elapsed())).await;
        longest_interval = longest_interval.max(started.elapsed());
    };
    // The tag keeps whole seconds, rounded up: up to one more.
    let bound = WINDOW + longest_interval * 2 + Duration::from_secs(1);
    println!(
        "window {WINDOW:?}, runs every {longest_interval:?} or less: removed after {removed_after:?} (bound {bound:?})"
    );
    assert!(removed_after >= WINDOW, "not before the window: {removed_after:?}");
    assert!(removed_after <= bound, "within the window, two intervals and a second: {removed_after:?} > {bound:?}");
}
