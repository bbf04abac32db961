//! `endpoint-service`: can consumers connect through PrivateLink? A service
//! that allows no principal refuses every consumer's endpoint; a connection
//! waiting for the provider's acceptance carries no traffic. One check per
//! VPC endpoint service on the load balancers; left out when there is none.

use super::balancer::balancer_names;
use crate::doctor::check::{Check, CheckId};
use crate::doctor::facts::{EndpointService, GroupFacts};

pub fn endpoint_service(f: &GroupFacts) -> Vec<Check> {
    let id = CheckId::EndpointService;
    let balancers = match &f.load_balancers {
        Ok(balancers) if balancers.is_empty() => return Vec::new(),
        Ok(balancers) => balancers,
        Err(unread) => return vec![Check::cannot(id, &f.name, unread)],
    };
    match &f.endpoint_services {
        Ok(services) => services.iter().map(check_service).collect(),
        Err(unread) => vec![Check::cannot(id, balancer_names(balancers), unread)],
    }
}

fn check_service(service: &EndpointService) -> Check {
    let id = CheckId::EndpointService;
    let mut findings = Vec::new();
    let mut fixes = Vec::new();
    if service.allowed_principals.is_empty() {
        findings.push("it allows no principal, so no consumer can create an endpoint to it".to_string());
        fixes.push(format!(
            "allow the consumers' accounts (template.yaml: AllowedAccountIds, AllowedPrincipalArns): aws ec2 \
             modify-vpc-endpoint-service-permissions --service-id {} --add-allowed-principals \
             arn:aws:iam::<account id>:root",
            service.id
        ));
    }
    if !service.pending_endpoints.is_empty() {
        findings.push(format!(
            "endpoint connections wait for acceptance and carry no traffic: {}",
            service.pending_endpoints.join(", ")
        ));
        fixes.push(format!(
            "accept them: aws ec2 accept-vpc-endpoint-connections --service-id {} --vpc-endpoint-ids {}",
            service.id,
            service.pending_endpoints.join(" ")
        ));
    }
    if findings.is_empty() {
        let acceptance = if service.acceptance_required {
            "each new connection needs acceptance"
        } else {
            "connections are accepted at once"
        };
        return Check::pass(
            id,
            &service.id,
            format!(
                "{} allows {} principal(s); no connection waits for acceptance ({acceptance})",
                service.name,
                service.allowed_principals.len()
            ),
        );
    }
    Check::warn(id, &service.id, format!("{}: {}", service.name, findings.join("; ")), fixes.join("; "))
}

#[cfg(test)]
mod tests {
    use super::super::sample::{facts, unread};
    use super::*;
    use crate::doctor::check::CheckStatus;

    fn service(f: &mut GroupFacts) -> &mut EndpointService {
        &mut f.endpoint_services.as_mut().unwrap()[0]
    }

    #[test]
    fn no_principal_or_a_pending_connection_is_a_warning_with_the_command() {
        let mut f = facts();
        service(&mut f).allowed_principals.clear();
        let check = endpoint_service(&f).remove(0);
        assert_eq!((check.status, check.resource.as_str()), (CheckStatus::Warn, "vpce-svc-1"));
        assert!(check.message.contains("allows no principal"), "{check:?}");
        assert!(check.fix.unwrap().contains("modify-vpc-endpoint-service-permissions --service-id vpce-svc-1"));

        let mut f = facts();
        service(&mut f).pending_endpoints = vec!["vpce-1".into(), "vpce-2".into()];
        let check = endpoint_service(&f).remove(0);
        assert_eq!(check.status, CheckStatus::Warn);
        assert!(check.message.contains("wait for acceptance and carry no traffic: vpce-1, vpce-2"), "{check:?}");
        assert!(check.fix.unwrap().ends_with("--vpc-endpoint-ids vpce-1 vpce-2"));
    }

    #[test]
    fn a_service_in_order_passes_and_none_leaves_the_check_out() {
        let check = endpoint_service(&facts()).remove(0);
        assert_eq!(check.status, CheckStatus::Pass, "{check:?}");
        let mut f = facts();
        f.endpoint_services = Ok(vec![]);
        assert!(endpoint_service(&f).is_empty());
        f.load_balancers = Ok(vec![]);
        f.endpoint_services = Err(unread());
        assert!(endpoint_service(&f).is_empty(), "no load balancer, no service");
        let mut f = facts();
        f.endpoint_services = Err(unread());
        assert!(endpoint_service(&f)[0].message.starts_with("cannot check"));
    }
}
