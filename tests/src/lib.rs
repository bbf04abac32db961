//! Test harness for the integration tests in `tests/tests/*.rs`.
//!
//! The integration tests run the real Lambda binaries of this workspace as
//! separate processes and check what they did to a fake AWS account. Every
//! piece runs on the loopback interface:
//!
//! * [`Moto`] starts the AWS stand-in on a free port: moto's server (the moto
//!   project's AWS API emulator) extended in `tests/standin/` with what ELB
//!   does and moto does not: target health (`initial`, `healthy`,
//!   `unhealthy`), `draining` for the deregistration delay, one address on
//!   several ports, the outside-the-VPC check, and RDS Proxy custom
//!   endpoints, ELB's `Describe*` token bucket and AWS's page limits.
//!   [`HealthChecks`] sets its knobs (how long new targets stay `initial`,
//!   which addresses are unreachable), [`AccessRules`] the actions it answers
//!   with AccessDenied; [`ApiBudget`] switches the bucket and reads how many
//!   calls each API action received; [`Moto::group_calls`] lists the calls
//!   that named each target group. [`Aws`] holds SDK clients
//!   pointed at it plus fixture helpers: VPCs and subnets (through the EC2
//!   query API, without `aws-sdk-ec2`), NLBs, `ip` target groups, Aurora
//!   clusters, RDS instances, RDS Proxies and their custom endpoints, and
//!   (`rds_shapes.rs`) Multi-AZ DB clusters, DocumentDB and Neptune
//!   clusters, Global Databases across two Regions and Aurora custom
//!   cluster endpoints.
//! * [`DnsServer`] is a real DNS server (UDP and TCP) inside the test process,
//!   built on `hickory-server`, whose records the test changes at any time and
//!   which can be told to stop answering or to answer SERVFAIL.
//! * [`LambdaEmulator`] runs a function binary under the Lambda runtime API
//!   emulator of `cargo lambda watch --only-lambda-apis` and invokes it.
//! * [`ResponseServer`] plays CloudFormation's pre-signed `ResponseURL`: it
//!   records every request and can answer 503 before 200; [`CfnRequest`]
//!   builds the custom-resource request events.
//! * [`OperatorCli`] runs the operator command line `nlb-target-sync`
//!   against the same moto and DNS server; [`doctor_checks`] reads its
//!   `doctor` answer strictly, and the `Aws` helpers of `doctor.rs` build what
//!   doctor checks (security groups, endpoint services and connections, MySQL
//!   parameter groups), also from `template.yaml` ([`full_producer_resources`]).
//! * [`sns_event`] and [`RdsNotification`] build the SNS events an RDS event
//!   subscription delivers, [`RdsEventBridgeEvent`] the EventBridge events RDS
//!   sends (moto never publishes RDS events).
//! * [`strings`], [`group_report`], [`event_decisions`] and their kin read the
//!   JSON the functions answer and the command line prints, strictly: a list
//!   of the wrong shape fails the test instead of reading as empty.
//!   [`ipv4`] and [`target`] write addresses and targets the way moto lists
//!   them.
//!
//! Each test creates its own instances of all three, so tests are independent
//! and can run in parallel.
//!
//! # Requirements
//!
//! * A Python virtual environment at `<workspace>/.venv` with `moto[server]`
//!   and `cargo-lambda` installed (`./dev.sh setup`), or the `STANDIN_PYTHON`
//!   (a Python with moto) / `CARGO_LAMBDA` environment variables naming the
//!   executables, or `python3` and `cargo-lambda` on `PATH`.
//! * The function binaries: [`LambdaEmulator::start`] builds them with
//!   `cargo build --workspace --bin <name>` once per test process (a no-op when
//!   they are up to date, see [`build_binary`]). Set
//!   `INTEGRATION_TESTS_NO_BUILD=1` to skip that step and use what
//!   `cargo build --workspace` left in the target directory.
//!
//! # Example
//!
//! ```no_run
//! # async fn example() {
//! use integration_tests::{Sandbox, scheduled_event};
//! use std::net::Ipv4Addr;
//!
//! let sandbox = Sandbox::start().await; // moto + VPC + NLB, and a DNS server
//! let tg = sandbox.target_group("tg-a", Some("dns:db.example.internal")).await;
//! sandbox.dns.set_a("db.example.internal", &[Ipv4Addr::new(10, 1, 0, 5)]);
//!
//! let lambda = sandbox.function("sync-on-schedule").start().await;
//! let invocation = lambda.invoke(scheduled_event()).await;
//! assert_eq!(invocation.status, 200);
//! assert_eq!(sandbox.aws.registered_targets(&tg.arn).await, vec!["10.1.0.5:5432"]);
//! # }
//! ```

mod access;
mod addresses;
mod answers;
mod api_budget;
mod aws;
mod cfn;
mod cli;
mod deadline_proxy;
mod dns;
mod doctor;
mod eventbridge;
mod fleet;
mod http;
mod journal;
mod lambda;
mod moto;
mod process;
mod rds_shapes;
mod sandbox;
mod sns;
mod standin;
mod workspace;

pub use access::AccessRules;
pub use addresses::{ipv4, sorted_targets, target};
pub use answers::{event_decisions, group_report, group_reports, only_group_report, sorted_strings, strings};
pub use api_budget::{ApiBudget, ApiCalls, CallCounts, ELB_DESCRIBE_CAPACITY, ELB_DESCRIBE_REFILL_PER_SECOND};
pub use aws::{
    ABSENT_TAG, AuroraCluster, Aws, IpFamily, Network, PORT_TAG, SOURCES_TAG, TargetGroup, TargetState, VIEW_TAG,
    scheduled_event, tag_value,
};
pub use cfn::{CfnRequest, LOGICAL_RESOURCE_ID, RecordedRequest, ResponseServer, STACK_ID};
pub use cli::{CLI_BINARY, CliRun, OperatorCli};
pub use dns::DnsServer;
pub use doctor::{DoctorCheck, doctor_checks, full_producer_resources};
pub use eventbridge::{RdsEventBridgeEvent, other_eventbridge_event};
pub use fleet::{Fleet, GROUPS_PER_CLUSTER, INSTANCES_PER_CLUSTER, fleet_address, steady_elb_calls_bound};
pub use journal::{CALLS_THAT_TOUCH_A_GROUP, GroupCall};
pub use lambda::LambdaEmulatorBuilder;
pub use lambda::{Invocation, LambdaEmulator, succeeded};
pub use moto::Moto;
pub use process::echo_child_output;
pub use rds_shapes::{Members, SECOND_REGION};
pub use sandbox::{Sandbox, VPC_CIDR};
pub use sns::{RdsNotification, SUBSCRIPTION_CONFIRMATION, event_time, now_ms, rds_event, sns_event};
pub use standin::{HealthCheckSettings, HealthChecks};
pub use workspace::{build_binary, find_binary, workspace_root};
