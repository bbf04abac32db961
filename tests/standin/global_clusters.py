"""Aurora Global Database roles, as RDS reports them.

moto 5.2.1 stores global clusters and lists their members, but a secondary
Region's cluster still names a writer among its DBClusterMembers, a global
cluster made from an existing cluster lists that cluster as a reader, and
SwitchoverGlobalCluster and FailoverGlobalCluster are not implemented. RDS
reports a secondary cluster with every member `IsClusterWriter: false`
(it is read-only), and a switchover or failover makes the target cluster the
writer of the global database (its first member by promotion tier its
writer) and the old primary a secondary, whose members all become readers.
This module makes moto do that. Both calls answer at once with the final
state (RDS takes a while: its events 0181-0187 and 0238/0239 tell how it
went).
"""

from moto.core.responses import ActionResult
from moto.rds import responses as rds_responses
from moto.rds.exceptions import RDSClientError


class GlobalClusterNotFoundFault(RDSClientError):
    def __init__(self, identifier):
        super().__init__("GlobalClusterNotFoundFault", f"Global cluster {identifier} not found.")


class InvalidGlobalClusterTarget(RDSClientError):
    def __init__(self, target):
        super().__init__(
            "InvalidParameterValue",
            f"The DB cluster {target} is not a secondary member of this global cluster.",
        )


def _global_cluster_of(cluster):
    from moto.rds.models import rds_backends

    for global_cluster in rds_backends[cluster.backend.account_id]["us-east-1"].global_clusters.values():
        if any(member is cluster for member in global_cluster.members):
            return global_cluster
    return None


def is_secondary(cluster):
    """True for a cluster that is a secondary of a global database."""
    return not cluster.is_writer and _global_cluster_of(cluster) is not None


def _switch(backend, params):
    identifier = (params.get("GlobalClusterIdentifier") or "").lower()
    global_cluster = backend.global_clusters.get(identifier)
    if global_cluster is None:
        raise GlobalClusterNotFoundFault(identifier)
    target = params.get("TargetDbClusterIdentifier") or ""
    chosen = [m for m in global_cluster.members if target in (m.db_cluster_arn, m.db_cluster_identifier)]
    if not chosen or chosen[0].is_writer:
        raise InvalidGlobalClusterTarget(target)
    for member in global_cluster.members:
        member.is_writer = member is chosen[0]
    return global_cluster


def install():
    from moto.rds.models import DBCluster, RDSBackend

    moto_members = DBCluster.db_cluster_members

    def db_cluster_members(self):
        members = moto_members.fget(self)
        if is_secondary(self):
            for member in members:
                member["IsClusterWriter"] = False
        return members

    DBCluster.db_cluster_members = property(db_cluster_members)

    moto_create_global = RDSBackend.create_global_cluster

    def create_global_cluster(self, global_cluster_identifier, source_db_cluster_identifier, *args, **kwargs):
        global_cluster = moto_create_global(self, global_cluster_identifier, source_db_cluster_identifier, *args, **kwargs)
        for member in global_cluster.members:
            # The cluster the global database is made from is its primary,
            # and names the global database by its identifier.
            member.is_writer = True
            member.global_cluster_identifier = global_cluster.global_cluster_identifier
        return global_cluster

    RDSBackend.create_global_cluster = create_global_cluster

    def switchover_global_cluster(self):
        return ActionResult({"GlobalCluster": _switch(self.global_backend, self.params)})

    def failover_global_cluster(self):
        return ActionResult({"GlobalCluster": _switch(self.global_backend, self.params)})

    for method in (switchover_global_cluster, failover_global_cluster):
        setattr(rds_responses.RDSResponse, method.__name__, method)
