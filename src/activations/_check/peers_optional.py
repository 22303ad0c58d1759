"""The optional peers: PyTorch CPU and ONNX Runtime (the operands: ``peers.py``).

- :func:`torch_peers`: ATen ops through their ``out=`` overloads, backwards through
  the ATen backward ops (no autograd); their operands are the same buffers as tensors.
- :class:`OnnxPeers`: a one-node model (a small graph for gated units) run with IO
  binding onto the NumPy buffers, forward only.

torch, onnx and onnxruntime are imported only when asked for (after ``activations``:
docs/performance-notes.md "one OpenMP runtime per process").
"""

from __future__ import annotations

from typing import Callable, Dict, Optional

import numpy as np

from activations._check.peers import SELU_ALPHA, SELU_SCALE, Peer, halves, rrelu_slope


def _P(t, k):
    """A parameter of the problem."""
    return t.params[k]


def import_torch():
    """The torch module, or None where it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def torch_peers(torch) -> Dict[str, Peer]:
    """The PyTorch peers by function name (default parameters); each takes the problem's
    buffers as tensors ``t`` (``t.x``, ``t.g``, ``t.y``, ``t.o_fwd``, ``t.o_bwd``,
    ``t.w``, ``t.params``)."""
    import torch.nn.functional as F
    aten = torch.ops.aten

    def out(op: str, *args, out, **kw):
        """An ATen op through its out= overload ('out' or 'grad_input'), writing into out."""
        packet = getattr(aten, op)
        for overload in ("out", "grad_input"):
            if overload in packet.overloads():
                fn = getattr(packet, overload)
                name = next(a.name for a in fn._schema.arguments if a.is_out)
                return fn(*args, **kw, **{name: out})
        raise LookupError(f"aten.{op} has no out= overload")

    def gated_bwd(t, f, f_backward):
        a, b = halves(t.x)
        return torch.cat([f_backward(t.g * b, a), f(a) * t.g], dim=-1, out=t.o_bwd)

    def leaky(slope):
        return Peer(fwd=lambda t: out("leaky_relu", t.x, slope(t), out=t.o_fwd),
                    bwd=lambda t: out("leaky_relu_backward", t.g, t.x, slope(t), False,
                                      out=t.o_bwd))

    return {
        "sigmoid": Peer(fwd=lambda t: torch.sigmoid(t.x, out=t.o_fwd),
                        bwd_from_y=lambda t: out("sigmoid_backward", t.g, t.y, out=t.o_bwd)),
        "tanh": Peer(fwd=lambda t: torch.tanh(t.x, out=t.o_fwd),
                     bwd_from_y=lambda t: out("tanh_backward", t.g, t.y, out=t.o_bwd)),
        "threshold": Peer(
            fwd=lambda t: out("threshold", t.x, _P(t, "threshold"), _P(t, "value"), out=t.o_fwd),
            bwd=lambda t: out("threshold_backward", t.g, t.x, _P(t, "threshold"), out=t.o_bwd)),
        "relu": Peer(fwd=lambda t: torch.clamp_min(t.x, 0, out=t.o_fwd),  # = relu in ATen
                     bwd=lambda t: out("threshold_backward", t.g, t.x, 0, out=t.o_bwd)),
        "leaky_relu": leaky(lambda t: _P(t, "negative_slope")),
        "rrelu": leaky(lambda t: rrelu_slope(t.params)),  # training=False
        "elu": Peer(
            fwd=lambda t: out("elu", t.x, _P(t, "alpha"), 1, 1, out=t.o_fwd),
            bwd=lambda t: out("elu_backward", t.g, _P(t, "alpha"), 1, 1, False, t.x,
                              out=t.o_bwd)),
        "selu": Peer(  # what torch.selu runs
            fwd=lambda t: out("elu", t.x, SELU_ALPHA, SELU_SCALE, 1, out=t.o_fwd),
            bwd=lambda t: out("elu_backward", t.g, SELU_ALPHA, SELU_SCALE, 1, False, t.x,
                              out=t.o_bwd)),
        "softsign": Peer(  # F.softsign
            fwd=lambda t: torch.div(t.x, torch.abs(t.x).add_(1), out=t.o_fwd),
            bwd=lambda t: torch.div(t.g, torch.abs(t.x).add_(1).square_(), out=t.o_bwd)),
        "softplus": Peer(
            fwd=lambda t: out("softplus", t.x, _P(t, "beta"), _P(t, "threshold"), out=t.o_fwd),
            bwd=lambda t: out("softplus_backward", t.g, t.x, _P(t, "beta"), _P(t, "threshold"),
                              out=t.o_bwd)),
        "swish": Peer(fwd=lambda t: out("silu", t.x, out=t.o_fwd),
                      bwd=lambda t: out("silu_backward", t.g, t.x, out=t.o_bwd)),
        "hard_swish": Peer(fwd=lambda t: out("hardswish", t.x, out=t.o_fwd),
                           bwd=lambda t: out("hardswish_backward", t.g, t.x, out=t.o_bwd)),
        "softmax": Peer(
            fwd=lambda t: out("_softmax", t.x, -1, False, out=t.o_fwd),
            bwd_from_y=lambda t: out("_softmax_backward_data", t.g, t.y, -1, t.y.dtype,
                                     out=t.o_bwd)),
        "log_softmax": Peer(
            fwd=lambda t: out("_log_softmax", t.x, -1, False, out=t.o_fwd),
            bwd_from_y=lambda t: out("_log_softmax_backward_data", t.g, t.y, -1, t.y.dtype,
                                     out=t.o_bwd)),
        "gelu": Peer(
            fwd=lambda t: out("gelu", t.x, approximate="none", out=t.o_fwd),
            bwd=lambda t: out("gelu_backward", t.g, t.x, approximate="none", out=t.o_bwd)),
        "gelu approximate='tanh'": Peer(
            fwd=lambda t: out("gelu", t.x, approximate="tanh", out=t.o_fwd),
            bwd=lambda t: out("gelu_backward", t.g, t.x, approximate="tanh", out=t.o_bwd)),
        "mish": Peer(fwd=lambda t: out("mish", t.x, out=t.o_fwd),
                     bwd=lambda t: aten.mish_backward(t.g, t.x)),  # no out= overload
        "prelu": Peer(fwd=lambda t: aten._prelu_kernel(t.x, t.w),
                      bwd=lambda t: aten._prelu_kernel_backward(t.g, t.x, t.w)),
        "glu": Peer(fwd=lambda t: out("glu", t.x, -1, out=t.o_fwd),   # F.glu
                    bwd=lambda t: out("glu_backward", t.g, t.x, -1, out=t.o_bwd)),
        # swiglu / geglu: the compositions a user writes (F.silu(a) * b, F.gelu(a) * b);
        # backward: what autograd runs for them (the activation's backward of g * b, and
        # g * f(a) for b), into the two halves of the output
        "swiglu": Peer(
            fwd=lambda t: torch.mul(F.silu(halves(t.x)[0]), halves(t.x)[1], out=t.o_fwd),
            bwd=lambda t: gated_bwd(t, F.silu, lambda gb, a: aten.silu_backward(gb, a))),
        "geglu": Peer(
            fwd=lambda t: torch.mul(F.gelu(halves(t.x)[0]), halves(t.x)[1], out=t.o_fwd),
            bwd=lambda t: gated_bwd(t, F.gelu, lambda gb, a: aten.gelu_backward(gb, a))),
    }


class OnnxPeers:
    """ONNX Runtime forwards: a one-node model per (function, dtype, rank, threads), run
    with IO binding onto the problem's buffers (no copies).  :meth:`load` gives None
    where onnx or onnxruntime is not installed."""

    #: op_type of a row that is a small graph: its "attributes" are the nodes
    GRAPH = "graph"

    def __init__(self, onnx, ort):
        self.onnx, self.ort = onnx, ort
        self.versions = {"onnxruntime": ort.__version__, "onnx": onnx.__version__}
        self._sessions: Dict[tuple, object] = {}

    @classmethod
    def load(cls) -> Optional["OnnxPeers"]:
        try:
            import onnx
            import onnx.helper
            import onnx.numpy_helper
            import onnxruntime as ort
        except ImportError:
            return None
        return cls(onnx, ort)

    def forward(self, p, threads: int) -> Optional[Callable]:
        """A call running p's forward, or None (no operator, or none for this dtype)."""
        spec = ONNX.get(p.name)
        if spec is None:
            return None
        op, attrs, inits, domain = spec(p)
        key = (p.name, p.dtype, p.x.ndim, threads, tuple((k, v.shape) for k, v in inits.items()))
        if key not in self._sessions:
            self._sessions[key] = self._session(op, attrs, inits, domain, p.dtype, p.x.ndim,
                                                threads)
        sess = self._sessions[key]
        if sess is None:
            return None
        binding = sess.io_binding()
        binding.bind_ortvalue_input("x", self.ort.OrtValue.ortvalue_from_numpy(p.x))
        binding.bind_ortvalue_output("y", self.ort.OrtValue.ortvalue_from_numpy(p.o_fwd))

        def run():
            sess.run_with_iobinding(binding)
            return p.o_fwd
        return run

    def _session(self, op, attrs, inits, domain, dtype, rank, threads):
        onnx, ort, h = self.onnx, self.ort, self.onnx.helper
        elem = onnx.TensorProto.FLOAT if dtype == np.float32 else onnx.TensorProto.DOUBLE
        x = h.make_tensor_value_info("x", elem, [f"d{i}" for i in range(rank)])
        y = h.make_tensor_value_info("y", elem, None)
        initializers = [onnx.numpy_helper.from_array(np.asarray(v, dtype), k)
                        for k, v in inits.items()]
        if op == self.GRAPH:
            nodes = [h.make_node(o, i, out, domain=d, **a) for o, i, out, a, d in attrs]
        else:
            nodes = [h.make_node(op, ["x", *inits], ["y"], domain=domain, **attrs)]
        graph = h.make_graph(nodes, "model", [x], [y], initializer=initializers)
        opsets = [h.make_opsetid("", 20)] + ([h.make_opsetid(domain, 1)] if domain else [])
        model = h.make_model(graph, opset_imports=opsets)
        model.ir_version = 10
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # idle pool threads must not spin while the next contestant is timed
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        so.log_severity_level = 4
        try:
            return ort.InferenceSession(model.SerializeToString(), so,
                                        providers=["CPUExecutionProvider"])
        except Exception:  # e.g. NOT_IMPLEMENTED: no float64 kernel
            return None


def _onnx(op, domain="", inits=None, **attrs):
    return lambda p: (op, attrs, inits(p) if inits else {}, domain)


def _onnx_gated(gate_op, on_first=True, domain="", **attrs):
    """The graph a user exports for a gated unit: Split(x) -> a, b; gate_op on one half
    (a: swiglu/geglu, b: glu), times the other.  Node specs: (op, inputs, outputs, attrs, domain)."""
    act_in, other = ("a", "b") if on_first else ("b", "a")
    nodes = [("Split", ["x"], ["a", "b"], {"axis": -1, "num_outputs": 2}, ""),
             (gate_op, [act_in], ["f"], attrs, domain),
             ("Mul", ["f", other], ["y"], {}, "")]
    return lambda p: (OnnxPeers.GRAPH, nodes, {}, domain)


#: The ONNX operator of each function: f(p) -> (op_type, attributes, initializer
#: inputs, domain).
ONNX: Dict[str, Callable] = {
    "sigmoid": _onnx("Sigmoid"),
    "tanh": _onnx("Tanh"),
    "relu": _onnx("Relu"),
    "leaky_relu": lambda p: ("LeakyRelu", {"alpha": p.params["negative_slope"]}, {}, ""),
    "rrelu": lambda p: ("LeakyRelu", {"alpha": rrelu_slope(p.params)}, {}, ""),
    "elu": lambda p: ("Elu", {"alpha": p.params["alpha"]}, {}, ""),
    "selu": _onnx("Selu", alpha=SELU_ALPHA, gamma=SELU_SCALE),
    "softsign": _onnx("Softsign"),
    "softplus": _onnx("Softplus"),
    # com.microsoft QuickGelu(alpha) is x * sigmoid(alpha * x): swish with beta = alpha
    "swish": lambda p: ("QuickGelu", {"alpha": p.params["beta"]}, {}, "com.microsoft"),
    "hard_swish": _onnx("HardSwish"),
    "softmax": _onnx("Softmax", axis=-1),
    "log_softmax": _onnx("LogSoftmax", axis=-1),
    "gelu": _onnx("Gelu", approximate="none"),
    "gelu approximate='tanh'": _onnx("Gelu", approximate="tanh"),
    "mish": _onnx("Mish"),
    "prelu": lambda p: ("PRelu", {}, {"slope": p.w}, ""),
    "glu": _onnx_gated("Sigmoid", on_first=False),
    "swiglu": _onnx_gated("QuickGelu", domain="com.microsoft", alpha=1.0),  # x sigmoid(x)
    "geglu": _onnx_gated("Gelu"),
}
