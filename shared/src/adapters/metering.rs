//! Counts every request the SDK clients send ([`crate::usage::ApiMeter`]):
//! an SDK interceptor, so retries are counted too, with nothing to remember
//! at each call site.

use std::sync::Arc;

use aws_sdk_elasticloadbalancingv2::config::interceptors::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_elasticloadbalancingv2::config::{ConfigBag, Intercept, RuntimeComponents};

use crate::usage::{ApiMeter, Service};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The interceptor of one service's client.
#[derive(Debug)]
pub struct CountCalls {
    service: Service,
    meter: Arc<ApiMeter>,
}

impl CountCalls {
    pub fn new(service: Service, meter: Arc<ApiMeter>) -> Self {
        CountCalls { service, meter }
    }
}

/// Query-protocol requests (ELB, RDS) name their action in the form body.
fn is_describe(context: &BeforeTransmitInterceptorContextRef<'_>) -> bool {
    let body = context.request().body().bytes().unwrap_or_default();
    body.starts_with(b"Action=Describe")
}

impl Intercept for CountCalls {
    fn name(&self) -> &'static str {
        "CountCalls"
    }

    /// Once per call, however many attempts it takes.
    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.meter.call_started();
        Ok(())
    }

    /// Once per attempt.
    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.meter.count(self.service, is_describe(context));
        Ok(())
    }
}
