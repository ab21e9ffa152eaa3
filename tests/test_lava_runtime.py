"""Lava imports even after another library fixed the multiprocessing start method."""
import subprocess
import sys


def test_lava_backend_runs_after_the_start_method_was_fixed(tmp_path):
    code = (
        "import multiprocessing as mp, numpy as np\n"
        "mp.set_start_method('fork')  # as scikit-learn or a tqdm lock may do first\n"
        "from spiketime.export.netx import CubaNeuron, DenseLayer, NetxNetwork, write_netx\n"
        "from spiketime.sim.lava_cpu import LavaCpuBackend\n"
        "net = NetxNetwork((DenseLayer(np.full((2, 3), 254), CubaNeuron(4096, 4096, 100)),))\n"
        f"p = write_netx(net, r'{tmp_path}/n.net')\n"
        "X = np.ones((1, 3, 5), np.uint8)\n"
        "print(LavaCpuBackend().run(p, X).output.sum(axis=-1).tolist())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[[4, 4]]"
