"""Inside the network: hidden activations, integrated-gradients saliency, first-layer weights, 2-D embeddings.

Every function takes a trained Keras model as ``core.model.config.build_model`` makes
it (or ``core.model.store.ModelStore.load`` gives it back, an imported one included) and digits
shaped (N, 28, 28), floats in [0, 1] or uint8 0-255, as ``core.model.predict`` does: each model is fed
as ``core.model.predict.model_io`` says, and its probabilities, if it gives them, are read as logits.

Per model, one multi-output Keras model (the hidden layers and the logits) and
one compiled gradient function are built on first use and kept as long as the
model lives, so a page can call these on every pen stroke.
"""

from __future__ import annotations

import weakref
from typing import Callable, Literal, get_args

import numpy as np

from core.model.predict import SMALLEST_PROBABILITY, model_io, predict_logits

EmbedMethod = Literal["pca", "tsne"]
EMBED_METHODS: tuple[str, ...] = get_args(EmbedMethod)
# Gradient rows (path points x digits) per compiled call. On the CNN preset, 128 digits
# took 4.1 s in calls of 256 rows, 5.3 s in calls of 1024 and 6.5 s in calls of 4096
# (2 busy cores), and 4096-row calls add about 700 MB: small calls win on both.
SALIENCY_ROWS = 256
# t-SNE works on the first principal components, not all hidden units: 50 is
# the usual choice (van der Maaten) and keeps its neighbour search fast.
TSNE_PCA_DIMENSIONS = 50
# The neighbourhood size t-SNE keeps (scikit-learn's default); it must stay below N.
TSNE_PERPLEXITY = 30.0
# 250 early-exaggeration iterations, then 250 more. On 2,000 digits through the lecture
# model, the 5-nearest-neighbour accuracy in the 2-D map was 93.0% after 500 iterations and
# 92.7% after scikit-learn's default 1,000, which take twice as long.
TSNE_ITERATIONS = 500

# model -> _Explainer; entries go when the model is garbage-collected.
_explainers: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def activations(model, images: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """What each hidden layer of ``model`` outputs for ``images``.

    Parameters
    ----------
    model : keras.Model
        (N, 28, 28) -> (N, 10) logits, an MLP or a CNN from ``build_model``.
    images : (N, 28, 28) floats in [0, 1] (or uint8 0-255); one (28, 28) digit is taken as N = 1.

    Returns
    -------
    list of (layer name, array), input to output:
        MLP: after each hidden layer's activation, (N, units), e.g. ("tanh1", (N, 64)) for the lecture.
        CNN: each convolution block's feature maps (its pooling layer), (N, H, W, filters), then the
        hidden dense layers as for an MLP.
    """
    explainer = _explainer_for(model)
    pixels = _as_pixels(images, "images")
    batch = model_io(model).batch
    chunks = [_outputs(explainer.network.predict_on_batch(pixels[start: start + batch]))
              for start in range(0, len(pixels), batch)]  # each: hidden arrays..., (B, 10) logits
    return [(name, np.concatenate([np.asarray(chunk[index]) for chunk in chunks]))
            for index, name in enumerate(explainer.names)]


def saliency(model, image: np.ndarray, target: int | None = None, steps: int = 32) -> np.ndarray:
    """Integrated gradients: how much each pixel adds to the logit of class ``target``.

    The path runs in a straight line from a black digit (all zeros) to ``image``;
    the gradient of the target logit is averaged over ``steps`` points on it and
    multiplied by the pixel values. The attributions add up to logit(image) -
    logit(black) (completeness), up to the error of that average: positive pixels
    speak for ``target``, negative ones against it.

    Parameters
    ----------
    model : keras.Model, (N, 28, 28) -> (N, 10) logits.
    image : (28, 28) floats in [0, 1] (or uint8 0-255); also (N, 28, 28) for N digits at once.
    target : the class 0-9 to explain (one for all digits, or (N,) of them);
        None explains each digit's predicted class.
    steps : points on the path; more is closer to the exact integral, and slower.

    Returns
    -------
    (28, 28) float32 attributions, or (N, 28, 28) for N digits.
    """
    single = np.ndim(image) == 2
    pixels = _as_pixels(image, "image")  # (N, 28, 28)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be a whole number of at least 1, got {steps!r}")
    targets = _targets(model, pixels, target)  # (N,) int32
    explainer = _explainer_for(model)
    # The midpoint rule in u, with the path position alpha = u^2: points crowd near black,
    # where most units switch on and the gradient changes fastest along the path.
    # On 500 test digits at 32 steps, how far the sum was from the logit change:
    #   lecture MLP (tanh):           median 0.03%, worst 0.1%  (plain midpoint: 0.02%, worst 1.0%)
    #   CNN preset (ReLU, 12 epochs): median 0.27%, worst 1.8%  (plain midpoint: 0.54%, worst 3.6%)
    # A ReLU network's gradient jumps wherever a unit switches, so its error only halves as
    # steps double. With batch norm after every convolution it jumps far more often: such a
    # CNN (1 epoch) was beyond 5% on 7.4% of the digits at 32 steps, and on 3.0% at 64.
    middles = (np.arange(steps) + 0.5) / steps  # (steps,) midpoints of equal pieces of u in [0, 1]
    alphas = (middles ** 2).astype(np.float32)  # (steps,) places on the path, crowded near black
    weights = (2 * middles / steps).astype(np.float32)  # (steps,) d(alpha) = 2u du; they sum to 1
    per_call = max(1, SALIENCY_ROWS // steps)  # digits per compiled call
    attributions = np.concatenate([
        explainer.integrated_gradients(pixels[start: start + per_call], targets[start: start + per_call],
                                       alphas, weights).numpy()
        for start in range(0, len(pixels), per_call)
    ])  # (N, 28, 28)
    return attributions[0] if single else attributions


def first_layer_weights(model) -> np.ndarray:
    """The first dense layer's weights of an MLP, one 28x28 picture per hidden unit.

    Returns
    -------
    (units, 28, 28) float32: unit u's weight on each pixel; e.g. (64, 28, 28) for the lecture.
    Raises ValueError for a CNN, whose first layer sees 3x3 patches, not the whole digit (and for an imported
    model whose first dense layer does not see all 784 pixels).
    """
    import keras

    if any(isinstance(layer, keras.layers.Conv2D) for layer in model.layers):
        raise ValueError("first_layer_weights works on MLPs only: this model is a CNN, whose first layer "
                         "looks at 3x3 patches; use activations() to see its feature maps")
    dense = next((layer for layer in model.layers if isinstance(layer, keras.layers.Dense)), None)
    if dense is None or tuple(dense.kernel.shape)[0] != 784:
        raise ValueError("first_layer_weights works on MLPs whose first dense layer weighs every pixel; this "
                         "model's first layer does not see the whole digit")
    kernel = np.asarray(dense.kernel)  # (784, units): Flatten reads the digit row by row
    return kernel.T.reshape(-1, 28, 28).astype(np.float32)  # (units, 28, 28)


def embed(
    model,
    images: np.ndarray,
    method: EmbedMethod = "pca",
    on_progress: Callable[[float, str], None] | None = None,
    seed: int = 0,
) -> np.ndarray:
    """The digits as the model's last hidden layer sees them, laid out in 2-D.

    Parameters
    ----------
    model : keras.Model, (N, 28, 28) -> (N, 10) logits.
    images : (N, 28, 28) floats in [0, 1] (or uint8 0-255), N >= 2.
    method : "pca" (the two directions of largest spread; instant) or "tsne"
        (keeps neighbours together; 9-14 s for 2,000 digits on 2 busy cores).
    on_progress : called with (fraction done 0-1, what is happening now) as each stage starts and at the end.
    seed : seeds t-SNE; the same seed gives the same picture.

    Returns
    -------
    (N, 2) float32 coordinates, one point per digit.
    """
    from threadpoolctl import threadpool_limits  # comes with scikit-learn

    if method not in EMBED_METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, EMBED_METHODS))}, got {method!r}")
    pixels = _as_pixels(images, "images")
    if len(pixels) < 2:
        raise ValueError(f"images must hold at least 2 digits to lay out, got {len(pixels)}")
    report = on_progress or (lambda fraction, message: None)
    report(0.0, "reading the last hidden layer")
    hidden = activations(model, pixels)[-1][1].reshape(len(pixels), -1).astype(np.float64)  # (N, units)
    # One thread for the numpy and t-SNE work: on 2 cores shared with other programs, threads
    # wait on each other. PCA of 2,000 digits x 128 units took 17 ms (median) on one thread
    # against 200 ms on two; 300 t-SNE iterations took 7.5-17 s against 27-42 s.
    with threadpool_limits(1):
        if method == "pca":
            report(0.5, "projecting onto the two main directions (PCA)")
            points = _pca(hidden, 2)  # (N, 2)
        else:
            from sklearn.manifold import TSNE

            report(0.1, f"reducing to {TSNE_PCA_DIMENSIONS} dimensions (PCA)")
            reduced = _pca(hidden, TSNE_PCA_DIMENSIONS)  # (N, <= 50)
            report(0.2, f"t-SNE on {len(pixels):,} digits")
            tsne = TSNE(n_components=2, perplexity=min(TSNE_PERPLEXITY, (len(pixels) - 1) / 3),
                        init="pca", max_iter=TSNE_ITERATIONS, random_state=seed)
            points = tsne.fit_transform(reduced)  # (N, 2)
    report(1.0, "done")
    return points.astype(np.float32)  # (N, 2)


class _Explainer:
    """One model's multi-output network and compiled gradient function, built once."""

    def __init__(self, model):
        import keras
        import tensorflow as tf

        io = model_io(model)
        shown = _hidden_layers(model)
        # A functional model over the same layers (the weights are shared, not copied): the
        # hidden outputs, then the logits. It takes (N, 28, 28) pixels in [0, 1] whatever the model
        # takes (an imported one may want 784 values or 0-255), so the gradients are per pixel.
        # It holds the layers, not `model`, so the weak cache lets `model` go.
        pixels = keras.Input(shape=(28, 28), name="pixels")
        fed = pixels
        if io.shape != (28, 28) or io.scale != 1:
            fed = keras.ops.reshape(pixels * io.scale, (-1, *io.shape))  # (N, *io.shape)
        self.names = [layer.name for layer in shown]
        if isinstance(model, keras.Sequential):
            # The layers are called afresh on the new input rather than reusing `layer.output`: a
            # Sequential rebuilds its graph as each layer is added, so `layer.output` of different
            # layers can sit on separate copies of the network, and a model mixing them ran it once
            # per output (4x slower on the CNN).
            hidden, flow = [], fed
            for layer in model.layers:
                flow = layer(flow)
                if any(layer is wanted for wanted in shown):
                    hidden.append(flow)
        else:  # a functional model (imported): its own graph, read at the shown layers too
            inner = keras.Model(model.inputs, [*(layer.output for layer in shown), model.outputs[0]])
            *hidden, flow = _outputs(inner(fed))
        if io.output == "probabilities":  # log-probabilities: the logits up to a constant per digit
            flow = keras.ops.log(keras.ops.maximum(flow, SMALLEST_PROBABILITY))
        self.network = network = keras.Model(pixels, [*hidden, flow])

        @tf.function(input_signature=[
            tf.TensorSpec([None, 28, 28], tf.float32), tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([None], tf.float32), tf.TensorSpec([None], tf.float32),
        ])
        def integrated_gradients(images, targets, alphas, weights):
            count, steps = tf.shape(images)[0], tf.shape(alphas)[0]
            path = alphas[None, :, None, None] * images[:, None]  # (B, S, 28, 28): black -> image
            path = tf.reshape(path, [-1, 28, 28])  # (B*S, 28, 28), one batched forward and backward pass
            with tf.GradientTape() as tape:
                tape.watch(path)
                logits = _outputs(network(path, training=False))[-1]  # (B*S, 10)
                chosen = tf.gather(logits, tf.repeat(targets, steps), axis=1, batch_dims=1)  # (B*S,)
            gradients = tf.reshape(tape.gradient(chosen, path), [count, steps, 28, 28])  # (B, S, 28, 28)
            return images * tf.tensordot(gradients, weights, [[1], [0]])  # (B, 28, 28)

        # (B, 28, 28) digits, (B,) classes, (S,) places on the path and their weights -> (B, 28, 28) tensor
        self.integrated_gradients = integrated_gradients


def _outputs(result) -> list:
    """A model's outputs as a list: Keras gives a model of one output (no hidden layer to show) its tensor alone."""
    return list(result) if isinstance(result, (list, tuple)) else [result]


def _explainer_for(model) -> _Explainer:
    explainer = _explainers.get(model)
    if explainer is None:
        explainer = _explainers[model] = _Explainer(model)
    return explainer


def _hidden_layers(model) -> list:
    """The layers whose outputs ``activations`` returns.

    A convolution block ends in a pooling layer: its output is the block's feature maps.
    A hidden dense layer is followed by batch norm and/or its activation: the last of those
    is what the next layer sees (a Dense with a built-in activation stands for itself).
    """
    import keras

    layers = model.layers
    pooling = (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)
    chosen = [layer for layer in layers if isinstance(layer, pooling)]
    dense = [index for index, layer in enumerate(layers) if isinstance(layer, keras.layers.Dense)]
    for index in dense[:-1]:  # the last Dense gives the logits
        output = layers[index]
        for follower in layers[index + 1:]:
            if not isinstance(follower, (keras.layers.BatchNormalization, keras.layers.Activation)):
                break
            output = follower
        chosen.append(output)
    return chosen


def _as_pixels(images, name: str) -> np.ndarray:
    """(N, 28, 28) or one (28, 28) digit, floats in [0, 1] or uint8 -> (N, 28, 28) float32 in [0, 1]."""
    images = np.asarray(images)
    if images.ndim == 2:
        images = images[None]
    if images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) == 0:
        raise ValueError(f"{name} must be one digit shaped (28, 28) or digits shaped (N, 28, 28), "
                         f"got {images.shape}")
    return images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else images.astype(np.float32)


def _targets(model, pixels: np.ndarray, target) -> np.ndarray:
    """(N,) int32 classes to explain: ``target`` checked, or each digit's predicted class."""
    if target is None:
        return predict_logits(model, pixels).argmax(axis=1).astype(np.int32)
    targets = np.broadcast_to(np.asarray(target), (len(pixels),)) if np.ndim(target) == 0 else np.asarray(target)
    if targets.dtype.kind not in "iu" or targets.shape != (len(pixels),) or not ((targets >= 0) & (targets <= 9)).all():
        raise ValueError(f"target must be a class from 0 to 9, one for every digit or one per digit "
                         f"(or None for the predicted class), got {target!r}")
    return targets.astype(np.int32)


def _pca(points: np.ndarray, dimensions: int) -> np.ndarray:
    """(N, D) -> (N, min(dimensions, D)) coordinates along the directions of largest spread.

    The directions are the eigenvectors of the (D, D) covariance, not an SVD of the
    (N, D) points: for 2,000 digits x 128 units, on one thread, 2-13 ms against 45-320 ms.
    Each direction's sign is fixed so its largest loading is positive: the same model
    gives the same picture, not a mirrored one.
    """
    centred = points - points.mean(axis=0)  # (N, D)
    _, vectors = np.linalg.eigh(centred.T @ centred)  # (D, D), columns by increasing spread
    directions = vectors[:, ::-1][:, :dimensions]  # (D, K), largest spread first
    largest = np.abs(directions).argmax(axis=0)  # (K,)
    directions = directions * np.sign(directions[largest, np.arange(directions.shape[1])])
    return centred @ directions  # (N, K)
