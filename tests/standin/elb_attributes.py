"""Target group attributes as ELB lists them for a new TCP, TLS, UDP or
TCP_UDP target group, which moto 5.2.1 leaves out:

* `deregistration_delay.connection_termination.enabled` = `false`
* `preserve_client_ip.enabled` = `false` for target type `ip` (`true` for
  `instance`)
* `proxy_protocol_v2.enabled` = `false`

so that DescribeTargetGroupAttributes answers what ELB answers (doctor's
`connection-termination` check reads the first). ModifyTargetGroupAttributes
changes them as any other attribute; moto accepts any key.
"""

from moto.elbv2 import models as elbv2

NETWORK_PROTOCOLS = ("TCP", "TLS", "UDP", "TCP_UDP")


def install():
    moto_init = elbv2.FakeTargetGroup.__init__

    def __init__(self, *args, **kwargs):
        moto_init(self, *args, **kwargs)
        if self.protocol in NETWORK_PROTOCOLS:
            self.attributes.setdefault("deregistration_delay.connection_termination.enabled", "false")
            self.attributes.setdefault("preserve_client_ip.enabled", "false" if self.target_type == "ip" else "true")
            self.attributes.setdefault("proxy_protocol_v2.enabled", "false")

    elbv2.FakeTargetGroup.__init__ = __init__
