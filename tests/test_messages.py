"""Error messages keep their numbers whatever else is loaded in the process.

pionnx links libstdc++ statically; with another libstdc++ in the process
(onnx's extension is one) iostream number formatting used to fail and cut
messages at the first number.
"""

import subprocess
import sys
import textwrap


def test_numbers_survive_another_cpp_extension_loaded_first():
    script = textwrap.dedent(
        """
        import onnx  # a C++ extension with its own libstdc++ loads first
        import numpy as np
        from onnx import TensorProto, helper
        import pionnx

        g = helper.make_graph(
            [helper.make_node("Relu", ["x"], ["y"])], "g",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])])
        sess = pionnx.InferenceSession(helper.make_model(g).SerializeToString())
        try:
            sess.run(None, {"x": np.zeros((2, 4), np.float32)})
        except pionnx.InvalidArgument as e:
            print(str(e))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    msg = out.stdout.strip()
    assert "dimension 1 must be 3" in msg and "got 4" in msg and "[2, 4]" in msg, msg
