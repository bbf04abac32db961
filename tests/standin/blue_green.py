"""Blue/Green switchover of a DB cluster, as RDS does it.

moto 5.2.1 renames only the two clusters: their member instances keep their
names and their cluster, so after a switchover the production cluster still
lists the blue instances and the `-old1` cluster lists none. RDS renames every
member: blue instances become `<name>-old1` in the `-old1` cluster, green
instances take the blue instances' names (and with them their endpoint names)
in the production cluster, and SwitchoverDetails lists each cluster and
instance pair. This module makes moto's switchover do that; instance
deployments are left as moto does them (they are right).
"""

import re

GREEN_SUFFIX = re.compile(r"^(?P<base>.+)-green-[a-z0-9]+$")


def _production_name(green_id):
    match = GREEN_SUFFIX.match(green_id)
    return match.group("base") if match else green_id


def _members(backend, cluster_id):
    from moto.rds.models import DBInstanceClustered

    return [
        db
        for db in backend.databases.values()
        if isinstance(db, DBInstanceClustered) and db.db_cluster_identifier == cluster_id
    ]


def _rename_instance(backend, instance, new_id, cluster_id):
    backend.modify_db_instance(
        db_instance_identifier=instance.db_instance_identifier,
        db_kwargs={"new_db_instance_identifier": new_id},
    )
    instance.db_cluster_identifier = cluster_id


def install():
    from moto.rds.models import BlueGreenDeployment, DBCluster, SwitchoverDetails

    moto_switchover = BlueGreenDeployment.switchover

    def switchover(self):
        source = self._get_valid_instance_or_raise(self.source)
        target = self._get_valid_instance_or_raise(self.target)
        if not (isinstance(source, DBCluster) and isinstance(target, DBCluster)):
            return moto_switchover(self)
        backend = self.backend
        blue_id, green_id = source.db_cluster_identifier, target.db_cluster_identifier
        blue_members = _members(backend, blue_id)
        green_members = _members(backend, green_id)
        moto_switchover(self)  # renames the clusters: blue -> <blue>-old1, green -> <blue>
        old_cluster = f"{blue_id}-old1"
        pairs = [(f"{blue_id}-old1", blue_id, "cluster")]
        for instance in blue_members:
            old_name = instance.db_instance_identifier
            _rename_instance(backend, instance, f"{old_name}-old1", old_cluster)
            pairs.append((f"{old_name}-old1", None, "db"))
        for instance in green_members:
            name = _production_name(instance.db_instance_identifier)
            _rename_instance(backend, instance, name, blue_id)
            pairs.append((None, name, "db"))
        arn = lambda kind, name: f"arn:aws:rds:{backend.region_name}:{backend.account_id}:{kind}:{name}"
        blue_arns = [arn(kind, name) for name, _, kind in pairs if name]
        green_arns = [arn(kind, name) for _, name, kind in pairs if name]
        self.switchover_details = [
            SwitchoverDetails(blue, green, self.status) for blue, green in zip(blue_arns, green_arns)
        ]

    BlueGreenDeployment.switchover = switchover
