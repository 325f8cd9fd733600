"""Training-time augmentation: make MNIST digits look like digits drawn on a canvas.

Canvas digits differ from MNIST's in position, size, slant and stroke
thickness; each batch gets a random mix of those, so the network learns to
ignore them.
"""

from __future__ import annotations


def make_augmenter(seed: int):
    """A function (B, 28, 28) float32 in [0, 1] -> (B, 28, 28), random per digit."""
    import keras
    import tensorflow as tf

    geometry = keras.Sequential([
        keras.layers.RandomRotation(0.04, fill_mode="constant", seed=seed),  # about +-15 degrees
        keras.layers.RandomZoom((-0.15, 0.15), fill_mode="constant", seed=seed + 1),
        keras.layers.RandomTranslation(0.1, 0.1, fill_mode="constant", seed=seed + 2),
    ])
    generator = tf.random.Generator.from_seed(seed + 3)

    def augment(images):
        images = geometry(images[..., None], training=True)
        # Stroke thickness: a third of the digits get bolder (max-pool dilation),
        # a third thinner (erosion), the rest stay as they are.
        bolder = tf.nn.max_pool2d(images, 3, 1, "SAME")
        thinner = -tf.nn.max_pool2d(-images, 2, 1, "SAME")
        choice = generator.uniform([tf.shape(images)[0], 1, 1, 1])
        images = tf.where(choice < 1 / 3, bolder, tf.where(choice < 2 / 3, thinner, images))
        return tf.clip_by_value(images[..., 0], 0.0, 1.0)

    return augment
