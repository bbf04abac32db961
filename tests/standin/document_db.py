"""Amazon DocumentDB clusters through the RDS API (engine `docdb`).

DocumentDB is managed through the same API as RDS (its clusters and
instances are listed by DescribeDBClusters and DescribeDBInstances, with
`Engine: docdb` and port 27017), but moto 5.2.1 refuses the engine. This
module lets moto's cluster and instance models take it, with DocumentDB's
port and an engine version; everything else (members, the writer flag,
failover) is moto's as for Aurora. Neptune (`neptune`, port 8182) moto
already takes.
"""

ENGINE = "docdb"
PORT = 27017
VERSION = "5.0.0"


def _accepting(original, extra):
    return classmethod(lambda cls: sorted(set(original()) | {extra}))


def _with_docdb(original, answer):
    def patched(engine, *args, **kwargs):
        return answer if engine == ENGINE else original(engine, *args, **kwargs)

    return staticmethod(patched)


def install():
    from moto.rds.models import DBCluster, DBInstance
    from moto.rds.utils import ClusterEngine, DbInstanceEngine

    ClusterEngine.list_cluster_engines = _accepting(ClusterEngine.list_cluster_engines, ENGINE)
    DbInstanceEngine.valid_db_instance_engine = _accepting(DbInstanceEngine.valid_db_instance_engine, ENGINE)
    DBCluster.default_engine_version = _with_docdb(DBCluster.default_engine_version, VERSION)
    DBCluster.default_port = _with_docdb(DBCluster.default_port, PORT)
    DBCluster.default_allocated_storage = _with_docdb(DBCluster.default_allocated_storage, 1)
    DBInstance.default_port = _with_docdb(DBInstance.default_port, PORT)
    DBInstance.default_engine_versions[ENGINE] = VERSION
