"""Multi-AZ DB clusters (RDS for MySQL and PostgreSQL, not Aurora), as RDS
makes them.

moto 5.2.1 creates such a cluster with no member and `MultiAZ: false`. RDS
creates it with three DB instances in three Availability Zones, one writer
and two readable standbys, named `<cluster>-instance-1` to `-3`, each with
its own endpoint; DescribeDBClusters lists them as members, and
FailoverDBCluster makes a standby the writer (moto's failover already does
that once the members exist). A Multi-AZ DB cluster is asked for with
`DBClusterInstanceClass`; without it moto's behaviour is kept.
"""

MULTI_AZ_ENGINES = ("mysql", "postgres")
MEMBERS = 3


def _add_members(backend, cluster):
    zones = list(cluster.availability_zones or [])[:MEMBERS]
    while len(zones) < MEMBERS:
        zones.append(f"{backend.region_name}{'abc'[len(zones)]}")
    for n, zone in enumerate(zones, start=1):
        backend.create_db_instance(
            {
                "db_instance_identifier": f"{cluster.db_cluster_identifier}-instance-{n}",
                "db_cluster_identifier": cluster.db_cluster_identifier,
                "engine": cluster.engine,
                "db_instance_class": cluster.db_cluster_instance_class,
                "availability_zone": zone,
            }
        )


def install():
    from moto.rds.models import RDSBackend

    moto_create = RDSBackend.create_db_cluster

    def create_db_cluster(self, kwargs):
        cluster = moto_create(self, kwargs)
        if cluster.engine in MULTI_AZ_ENGINES and cluster.db_cluster_instance_class:
            _add_members(self, cluster)
        return cluster

    RDSBackend.create_db_cluster = create_db_cluster
