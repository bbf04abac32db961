//! Prints how long the pure planner takes for target groups of growing size
//! (up to the 1,000-target limit of a target group). Run: `cargo bench -p nlb-target-sync --features bench`.

use std::collections::BTreeSet;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use nlb_target_sync::bench::{
    AllowedAddresses, Resolution, Source, SourceAnswer, Target, TargetGroupState, TargetHealth, plan_with_history,
};

fn ip(n: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n))
}

/// `size` targets registered; the sources want half of them plus `size / 2` new ones.
fn case(size: u32, sources: u32) -> (Vec<SourceAnswer>, TargetGroupState) {
    let current = TargetGroupState::new((0..size).map(|n| (Target { ip: ip(n), port: 5432 }, TargetHealth::Healthy)));
    let per_source = size / sources;
    let answers = (0..sources)
        .map(|s| {
            let start = size / 2 + s * per_source;
            let addresses: BTreeSet<IpAddr> = (start..start + per_source).map(ip).collect();
            SourceAnswer {
                source: Source::Dns { hostname: format!("db{s}.example.internal") },
                outcome: Ok(Resolution { addresses, ..Default::default() }),
            }
        })
        .collect();
    (answers, current)
}

fn main() {
    println!("{:>8} {:>8} {:>12} {:>14}", "targets", "sources", "iterations", "per plan");
    for (size, sources) in [(2, 1), (10, 2), (100, 4), (1000, 8)] {
        let (answers, current) = case(size, sources);
        let mut iterations = 0u32;
        let started = Instant::now();
        while started.elapsed() < Duration::from_millis(500) {
            black_box(plan_with_history(
                black_box(&answers),
                5432,
                black_box(&current),
                None,
                &AllowedAddresses::PrivateRanges,
            ));
            iterations += 1;
        }
        let per = started.elapsed() / iterations;
        println!("{size:>8} {sources:>8} {iterations:>12} {per:>14.2?}");
    }
}
