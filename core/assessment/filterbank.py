"""The skin-analysis filter bank: an ONNX model built from code, run on onnxruntime.

Contract (a trained model may replace or join this one through the same contract):
- input  `image`: float32 (N, 3, H, W), RGB, sRGB-encoded values 0..1, the canonical face.
- outputs, all float32 (N, C, H, W):
  `lab` (C=3: CIELAB L*, a*, b*, D65), `erythema` / `melanin` (index maps, 100*log10 of
  linear reflectance ratios), `ridge` (scale-normalised dark-line strength, max over scales),
  `ridge_orientation` (radians, direction ACROSS the line, image axes, y down), `blob_dark_fine`
  (pore-sized dark blobs), `blob_dark` (spot-sized dark blobs), `blob_red` (spot-sized a* peaks),
  `roughness` (local high-pass energy of L*), `specular` (0..1 specular-highlight likelihood).

Why a graph rather than numpy: the same versioned, hashed artefact runs everywhere, and a
learned model drops in behind the same input/output names. The file is built deterministically
(`make setup` -> scripts/build_filterbank.py) and verified at load against what this code
builds, so its sha256 identifies the exact maths that produced a report.
"""

from __future__ import annotations

import hashlib
import math
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from core.paths import model_dir

FILTERBANK_NAME = "skin_filterbank.onnx"
FILTERBANK_VERSION = "1.0.0"
OPSET = 17
IR_VERSION = 8

OUTPUT_NAMES: tuple[str, ...] = (
    "lab",
    "erythema",
    "melanin",
    "ridge",
    "ridge_orientation",
    "blob_dark_fine",
    "blob_dark",
    "blob_red",
    "roughness",
    "specular",
)

# Scales in canonical pixels (the canonical face is ~300 px wide, about 2 px per mm).
RIDGE_SIGMAS = (1.5, 3.0)  # fine lines, deeper folds
PORE_SIGMA = 1.2
SPOT_SIGMAS = (2.5, 4.5)  # 3-10 mm pigment spots / papules
ROUGHNESS_SIGMAS = (1.5, 4.0)  # high-pass cut-off, energy window

# sRGB (D65) -> XYZ, rows divided by the D65 white so that the Lab f() takes X/Xn etc.
_RGB_TO_XYZ = np.array(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
)
_D65_WHITE = np.array([0.95047, 1.0, 1.08883])


class FilterBankError(RuntimeError):
    """The filter-bank file is missing, stale or not what this code builds."""


class _Graph:
    """Tiny helper that names nodes and constants deterministically."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._counter = 0

    def _name(self, stem: str) -> str:
        self._counter += 1
        return f"{stem}_{self._counter}"

    def const(self, value: np.ndarray | float | list[float], stem: str = "c") -> str:
        name = self._name(stem)
        array = np.asarray(value, dtype=np.float32)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def const_int(self, values: list[int], stem: str = "i") -> str:
        name = self._name(stem)
        self.initializers.append(numpy_helper.from_array(np.asarray(values, dtype=np.int64), name))
        return name

    def op(self, op_type: str, inputs: list[str], output: str | None = None, **attrs) -> str:
        out = output or self._name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=self._name("n_" + op_type), **attrs))
        return out

    def ops(self, op_type: str, inputs: list[str], n_out: int, **attrs) -> list[str]:
        outs = [self._name(op_type.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=self._name("n_" + op_type), **attrs))
        return outs

    # -- building blocks ------------------------------------------------------------------
    def scale(self, x: str, factor: float) -> str:
        return self.op("Mul", [x, self.const(factor)])

    def relu(self, x: str) -> str:
        return self.op("Relu", [x])

    def reflect_pad(self, x: str, radius: int) -> str:
        pads = self.const_int([0, 0, radius, radius, 0, 0, radius, radius], "pads")
        return self.op("Pad", [x, pads], mode="reflect")

    def separable(self, x: str, horizontal: list[np.ndarray], vertical: list[np.ndarray]) -> str:
        """Apply k separable 2-D filters (h_i along x, v_i along y) to a 1-channel map -> k channels."""
        radius = (len(horizontal[0]) - 1) // 2
        padded = self.reflect_pad(x, radius)
        count = len(horizontal)
        w_h = np.stack(horizontal).reshape(count, 1, 1, -1)
        w_v = np.stack(vertical).reshape(count, 1, -1, 1)
        across = self.op("Conv", [padded, self.const(w_h, "kh")])
        return self.op("Conv", [across, self.const(w_v, "kv")], group=count)

    def gaussian(self, x: str, sigma: float) -> str:
        g, _, _ = _gaussian_kernels(sigma)
        return self.separable(x, [g], [g])

    def hessian_eigen(self, x: str, sigma: float) -> tuple[str, str, str]:
        """Scale-normalised Hessian eigenvalues (l1 >= l2) and the across-line angle of a 1-ch map."""
        g, gx, gxx = _gaussian_kernels(sigma)
        norm = sigma * sigma
        hess = self.separable(x, [gxx * norm, g * norm, gx * norm], [g, gxx, gx])
        ixx, iyy, ixy = self.ops("Split", [hess, self.const_int([1, 1, 1], "split")], 3, axis=1)
        half_sum = self.scale(self.op("Add", [ixx, iyy]), 0.5)
        diff = self.op("Sub", [ixx, iyy])
        half_diff = self.scale(diff, 0.5)
        radius = self.op(
            "Sqrt",
            [self.op("Add", [self.op("Mul", [half_diff, half_diff]), self.op("Mul", [ixy, ixy])])],
        )
        l1 = self.op("Add", [half_sum, radius])
        l2 = self.op("Sub", [half_sum, radius])
        # atan2(2*Ixy, Ixx-Iyy) / 2 without Atan2, by the half-angle identities
        #   atan2(y, x) / 2 = atan(y / (r + x))   (x >= 0)   and   atan((r - x) / y)   (x < 0),
        # each used where it is not singular.
        two_ixy = self.scale(ixy, 2.0)
        hypot = self.scale(radius, 2.0)
        right_half = self.op(
            "Atan",
            [self.op("Div", [two_ixy, self.op("Add", [self.op("Add", [hypot, diff]), self.const(1e-6)])])],
        )
        tiny = self.op("Less", [self.op("Abs", [two_ixy]), self.const(1e-6)])
        safe_y = self.op("Where", [tiny, self.const(1e-6), two_ixy])
        left_half = self.op("Atan", [self.op("Div", [self.op("Sub", [hypot, diff]), safe_y])])
        angle = self.op("Where", [self.op("GreaterOrEqual", [diff, self.const(0.0)]), right_half, left_half])
        return l1, l2, angle


def _gaussian_kernels(sigma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sampled Gaussian and its 1st/2nd derivatives (float64), radius 3 sigma."""
    radius = int(math.ceil(3.0 * sigma))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-(x**2) / (2 * sigma**2))
    g /= g.sum()
    gx = -x / sigma**2 * g
    gxx = (x**2 / sigma**4 - 1.0 / sigma**2) * g
    gxx -= gxx.mean()  # zero DC so flat skin gives exactly zero curvature
    return g, gx, gxx


def build_filterbank_model() -> onnx.ModelProto:
    """Build the filter bank graph; the same code always gives byte-identical output."""
    gb = _Graph()
    image = "image"
    x = gb.op("Clip", [image, gb.const(0.0), gb.const(1.0)])

    # sRGB -> linear RGB
    low = gb.scale(x, 1.0 / 12.92)
    high = gb.op("Pow", [gb.scale(gb.op("Add", [x, gb.const(0.055)]), 1.0 / 1.055), gb.const(2.4)])
    linear = gb.op("Where", [gb.op("LessOrEqual", [x, gb.const(0.04045)]), low, high])

    # linear RGB -> XYZ / white (1x1 convolution) -> Lab
    xyz_matrix = (_RGB_TO_XYZ / _D65_WHITE[:, None]).reshape(3, 3, 1, 1)
    xyz = gb.op("Conv", [linear, gb.const(xyz_matrix, "rgb2xyz")])
    delta = 6.0 / 29.0
    cube_root = gb.op("Pow", [gb.op("Max", [xyz, gb.const(1e-9)]), gb.const(1.0 / 3.0)])
    linear_part = gb.op("Add", [gb.scale(xyz, 1.0 / (3 * delta * delta)), gb.const(4.0 / 29.0)])
    f = gb.op("Where", [gb.op("Greater", [xyz, gb.const(delta**3)]), cube_root, linear_part])
    lab_matrix = np.array([[0, 116, 0], [500, -500, 0], [0, 200, -200]], dtype=np.float64).reshape(3, 3, 1, 1)
    lab = gb.op("Conv", [f, gb.const(lab_matrix, "f2lab"), gb.const([-16.0, 0.0, 0.0], "labbias")], "lab")
    lightness, a_star, _ = gb.ops("Split", [lab, gb.const_int([1, 1, 1], "split")], 3, axis=1)

    # Erythema / melanin indices (Dawson/Takiwaki style) on linear reflectance
    red, green, _ = gb.ops("Split", [linear, gb.const_int([1, 1, 1], "split")], 3, axis=1)
    inv_ln10 = 1.0 / math.log(10.0)
    log_red = gb.scale(gb.op("Log", [gb.op("Max", [red, gb.const(1e-4)])]), inv_ln10)
    log_green = gb.scale(gb.op("Log", [gb.op("Max", [green, gb.const(1e-4)])]), inv_ln10)
    gb.op("Mul", [gb.op("Sub", [log_red, log_green]), gb.const(100.0)], "erythema")
    gb.op("Mul", [log_red, gb.const(-100.0)], "melanin")

    # Multi-scale dark-line (valley) strength: large positive curvature across, little along.
    ridges: list[tuple[str, str]] = []
    for sigma in RIDGE_SIGMAS:
        l1, l2, angle = gb.hessian_eigen(lightness, sigma)
        ridges.append((gb.relu(gb.op("Sub", [l1, gb.relu(l2)])), angle))
    (fine, fine_angle), (coarse, coarse_angle) = ridges
    gb.op("Max", [fine, coarse], "ridge")
    gb.op("Where", [gb.op("GreaterOrEqual", [fine, coarse]), fine_angle, coarse_angle], "ridge_orientation")

    # Dark blobs (positive curvature in every direction): pores at the fine scale, spots coarser.
    _, pore_l2, _ = gb.hessian_eigen(lightness, PORE_SIGMA)
    gb.op("Identity", [gb.relu(pore_l2)], "blob_dark_fine")
    spot_maps = [gb.relu(gb.hessian_eigen(lightness, s)[1]) for s in SPOT_SIGMAS]
    gb.op("Max", spot_maps, "blob_dark")
    # Red blobs: peaks of a* (negative curvature in every direction of a*).
    minus_a = gb.scale(a_star, -1.0)
    red_maps = [gb.relu(gb.hessian_eigen(minus_a, s)[1]) for s in SPOT_SIGMAS]
    gb.op("Max", red_maps, "blob_red")

    # Roughness: RMS of the high-pass of L* over a local window.
    high_pass = gb.op("Sub", [lightness, gb.gaussian(lightness, ROUGHNESS_SIGMAS[0])])
    energy = gb.gaussian(gb.op("Mul", [high_pass, high_pass]), ROUGHNESS_SIGMAS[1])
    gb.op("Sqrt", [gb.op("Max", [energy, gb.const(0.0)])], "roughness")

    # Specular highlights: bright in every channel and nearly colourless.
    channel_min = gb.op("ReduceMin", [linear], axes=[1], keepdims=1)
    channel_max = gb.op("ReduceMax", [linear], axes=[1], keepdims=1)
    saturation = gb.op(
        "Div", [gb.op("Sub", [channel_max, channel_min]), gb.op("Add", [channel_max, gb.const(1e-4)])]
    )
    brightness = gb.op(
        "Clip", [gb.scale(gb.op("Sub", [channel_min, gb.const(0.45)]), 1 / 0.3), gb.const(0.0), gb.const(1.0)]
    )
    whiteness = gb.op(
        "Clip", [gb.op("Sub", [gb.const(1.0), gb.scale(saturation, 3.0)]), gb.const(0.0), gb.const(1.0)]
    )
    gb.op("Mul", [brightness, whiteness], "specular")

    dims = ["N", 3, "H", "W"]
    inputs = [helper.make_tensor_value_info("image", TensorProto.FLOAT, dims)]
    outputs = [
        helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", 3 if name == "lab" else 1, "H", "W"])
        for name in OUTPUT_NAMES
    ]
    graph = helper.make_graph(gb.nodes, "skin_filterbank", inputs, outputs, gb.initializers)
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="clinic-portal scripts/build_filterbank.py",
        producer_version=FILTERBANK_VERSION,
        ir_version=IR_VERSION,
        doc_string="Skin-analysis filter bank (colour, lines, spots, texture, shine). Measures; does not diagnose.",
    )
    helper.set_model_props(
        model,
        {
            "name": "skin_filterbank",
            "version": FILTERBANK_VERSION,
            "input": "image float32 (N,3,H,W) RGB sRGB 0..1, canonical face",
            "outputs": ",".join(OUTPUT_NAMES),
            "ridge_sigmas": ",".join(str(s) for s in RIDGE_SIGMAS),
            "spot_sigmas": ",".join(str(s) for s in SPOT_SIGMAS),
        },
    )
    onnx.checker.check_model(model)
    return model


def filterbank_bytes() -> bytes:
    return build_filterbank_model().SerializeToString(deterministic=True)


def write_filterbank(directory: Path | None = None) -> Path:
    """Build the model into the model directory (atomically); returns its path."""
    target = (directory or model_dir()) / FILTERBANK_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    data = filterbank_bytes()
    if target.is_file() and target.read_bytes() == data:
        return target
    partial = target.with_suffix(".onnx.part")
    partial.write_bytes(data)
    partial.replace(target)
    return target


@dataclass(frozen=True)
class FilterBankInfo:
    name: str
    version: str
    sha256: str
    path: str


class FilterBank:
    """An onnxruntime session over the filter-bank file, verified at load."""

    def __init__(self, path: Path, threads: int = 1) -> None:
        import onnxruntime as ort

        data = path.read_bytes()
        self.sha256 = hashlib.sha256(data).hexdigest()
        model = onnx.load_from_string(data)
        props = {p.key: p.value for p in model.metadata_props}
        self.version = props.get("version", "unknown")
        self.path = path
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        self.output_names = [o.name for o in self.session.get_outputs()]

    @property
    def info(self) -> FilterBankInfo:
        return FilterBankInfo("skin_filterbank", self.version, self.sha256, str(self.path))

    def run(self, image_rgb01: np.ndarray) -> dict[str, np.ndarray]:
        """(H, W, 3) float RGB 0..1 -> dict of (H, W) maps ('lab' is (H, W, 3))."""
        tensor = np.ascontiguousarray(image_rgb01.transpose(2, 0, 1)[None], dtype=np.float32)
        results = self.session.run(self.output_names, {"image": tensor})
        maps: dict[str, np.ndarray] = {}
        for name, value in zip(self.output_names, results, strict=True):
            array = np.asarray(value)  # the bank's outputs are dense tensors
            maps[name] = array[0].transpose(1, 2, 0) if name == "lab" else array[0, 0]
        return maps


_cache: dict[tuple[str, int], FilterBank] = {}
_lock = threading.Lock()


def load_filterbank(directory: Path | None = None, threads: int = 1) -> FilterBank:
    """The verified filter bank: built when missing, refused when it differs from this code's build."""
    path = (directory or model_dir()) / FILTERBANK_NAME
    key = (str(path), threads)
    with _lock:
        if key in _cache:
            return _cache[key]
        expected = hashlib.sha256(filterbank_bytes()).hexdigest()
        if not path.is_file():
            write_filterbank(path.parent)
        actual = hashlib.sha256(path.read_bytes()).hexdigest()
        if actual != expected:
            raise FilterBankError(
                f"{path} has sha256 {actual} but this code builds {expected}. Run `make setup` "
                "(or `python scripts/build_filterbank.py`) to rebuild it."
            )
        bank = FilterBank(path, threads=threads)
        _cache[key] = bank
        return bank
