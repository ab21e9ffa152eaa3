"""Shared fixtures; the helpers they use are in support.py."""
from __future__ import annotations

import pytest
from support import train_delay_net

from spiketime.export.from_slayer import to_netx
from spiketime.export.netx import write_netx
from spiketime.sim import lava_runtime

# Tests import Lava directly, after scikit-learn may have fixed the start method.
lava_runtime.load()


@pytest.fixture(scope="session")
def trained_delay_net(tmp_path_factory):
    """A 12-16-10-3 net with delays, trained until weights, decays and delays all moved."""
    model, before = train_delay_net()
    path = tmp_path_factory.mktemp("net") / "trained.net"
    net = to_netx(model, {"task": "test"})
    write_netx(net, path)
    return {"model": model, "before": before, "path": path, "net": net}
