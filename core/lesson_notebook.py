"""The lesson to take home: the lecture's walk as a Jupyter notebook in TensorFlow 2 (and Keras 3).

The lecture (../shared/seed/000_7f0374a8bbdf037c.txt) is a TensorFlow 1 notebook: placeholders, a session,
``tf.train.GradientDescentOptimizer``. None of those exist in TensorFlow 2. ``lesson_notebook()`` gives the same
walk cell by cell, in the lecture's order, its own words in the text cells; each TensorFlow 1 cell becomes the
TensorFlow 2 code that does the same (eager functions, ``tf.Variable``, ``tf.GradientTape`` and the SGD step
written out), and says so in a short note. One thing is corrected, and marked as the correction: the lecture's
loss applies softmax twice (see core.lecture.lecture_loss); the notebook trains with the cross-entropy it meant.

The notebook reads the lecture's ``mnist_data.npz`` beside it (keys X_train, y_train, X_test, y_test), or
downloads MNIST with Keras when that file is missing. It needs numpy, matplotlib and TensorFlow.
tests/test_lesson_notebook.py runs its code cells headless on the 5,000-digit sample and reads the accuracy cell.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

NOTEBOOK_NAME = "mnist-lesson.ipynb"


class Cell(NamedTuple):
    kind: Literal["markdown", "code"]
    source: str


# The lecture's text where it explains (verbatim, as the seed has it), then each of its code cells (In [4] to
# In [26]) in TensorFlow 2. "TF2:" notes say what changed from TensorFlow 1; "Correction" marks the one fix.
CELLS: tuple[Cell, ...] = (
    Cell("markdown", """\
# MNIST classification

This lecture demonstrates an example of a classification instance using Tensorflow.

*This notebook is the lecture's walk in TensorFlow 2 (with Keras 3), cell by cell in its order, from the MNIST
classroom app. TensorFlow 1's placeholders, sessions and graph optimizers are gone in TensorFlow 2: the cells
that used them do the same with eager functions, and a short "TF2" note says how. One thing is corrected, the
loss (it applied softmax twice), and marked **Correction** where it is."""),
    Cell("markdown", """\
## MNIST data

MNIST is a collection of images of handwritten numerical digits. Each image is 28x28 pixels and each has a
grayscale value from 0-255.

*TF2 note: the file `mnist_data.npz` is the lecture's; without it beside this notebook, Keras downloads MNIST.*"""),
    Cell("code", """\
import os

import numpy as np
import matplotlib
import matplotlib.pyplot as plt

if os.path.exists('mnist_data.npz'):
    mnist = np.load('mnist_data.npz')

    X_train = mnist['X_train']
    X_test = mnist['X_test']
    y_train = mnist['y_train']
    y_test = mnist['y_test']
else:  # not beside the notebook: Keras downloads the same digits (11 MB) once
    import keras
    (X_train, y_train), (X_test, y_test) = keras.datasets.mnist.load_data()"""),
    Cell("markdown", "We have 60000 28x28 images in our training set and 10000 in the test set."),
    Cell("code", """\
print(X_train.shape)
print(X_test.shape)"""),
    Cell("markdown", "The pixel value range is 0-255"),
    Cell("code", "print(X_train[0])"),
    Cell("code", """\
plt.imshow(X_train[0], cmap='gray')
plt.axis('off')
plt.show()"""),
    Cell("markdown", "Let's see what they look like:"),
    Cell("code", """\
sz = 5

for i in range(sz*sz):

    plt.subplot(sz, sz, i+1)
    plt.imshow(X_train[i], cmap='gray')
    plt.axis('off')

plt.show()"""),
    Cell("markdown", "The dataset also includes a label for each digit:"),
    Cell("code", "print(y_train[:sz*sz].reshape([sz, sz]))"),
    Cell("markdown", """\
## Pre-processing

We will flatten each digit into a 784-dimensional vector."""),
    Cell("code", """\
train_data = X_train.reshape([-1, 28*28])
test_data = X_test.reshape([-1, 28*28])

print(train_data.shape)
print(test_data.shape)"""),
    Cell("markdown", "We will normalize the data to the [0,1] range:"),
    Cell("code", """\
def normalize_data(x):
    L = np.min(x)
    H = np.max(x)

    return (x.astype(np.float32)-L)/(H-L)

train_data = normalize_data(train_data)
test_data = normalize_data(test_data)

print(train_data[0])"""),
    Cell("markdown", "We also need to convert the labels into a 1-hot representation:"),
    Cell("code", """\
def to_one_hot(labels, num):
    one_hot_labels = np.zeros((labels.shape[0], num))
    one_hot_labels[np.arange(labels.shape[0]), labels] = 1.0
    return one_hot_labels


train_labels = to_one_hot(y_train, 10)
test_labels = to_one_hot(y_test, 10)

print('Initial labels:')
print(y_train[:5])
print('1-hot representation:')
print(train_labels[:5])"""),
    Cell("markdown", """\
## Building a model

First let's import tensorflow:"""),
    Cell("code", """\
import tensorflow as tf
import keras"""),
    Cell("markdown", """\
The model will take the flattened digit as input. An input is declared as a "placeholder" variable meaning
that the value of this tensor will be provided at run-time. For the computation of the loss function the class
labels are also considered inputs to the model:

*TF2 note: there are no placeholders. The model is a Python function and the digits are its argument;
these two specs say what a batch looks like (any number of rows), and the training step below is compiled for
them.*"""),
    Cell("code", """\
x = tf.TensorSpec([None, 784], tf.float32)
y = tf.TensorSpec([None, 10], tf.float32)"""),
    Cell("markdown", """\
We will feed the input into a two dense layers with a tanh() non-linearity. Each layer consists of the
weight matrix W and the bias vector b. These have to be declared as variables:

*TF2 note: `tf.Variable` replaces `tf.get_variable`; the layers become the function `logits(x)`. The weights
start at zero here and get their random values where the lecture initializes them, a few cells below.*"""),
    Cell("code", """\
h1_sz = 64

W1 = tf.Variable(tf.zeros([784, h1_sz]), name="W1")
b1 = tf.Variable(tf.zeros([h1_sz]))

W2 = tf.Variable(tf.zeros([h1_sz, 10]), name="W2")
b2 = tf.Variable(tf.zeros([10]))
variables = [W1, b1, W2, b2]


def logits(x):
    h1 = tf.matmul(x, W1) + b1
    h1 = tf.tanh(h1)
    h2 = tf.matmul(h1, W2) + b2
    return h2"""),
    Cell("markdown", "The activations of the layer are fed into a soft-max layer that outputs class probabilities:"),
    Cell("code", """\
def class_probs(x):
    return tf.nn.softmax(logits(x))"""),
    Cell("markdown", """\
We will use the cross-entropy between the predicted and the actual labels as our loss function:

**Correction (the one change to the lecture).** The lecture wrote
`tf.reduce_mean(-tf.reduce_sum(y * tf.log(tf.nn.softmax(class_probs)), axis=[1]))`, but `class_probs` is already
a softmax: softmax is applied **twice**. Probabilities lie between 0 and 1, so the second softmax squashes them
into roughly 0.09-0.23, and that loss can never go below log(1 + 9/e) ≈ 1.46, however well the network learns;
its gradients stay small. The cross-entropy the lecture meant is computed from the logits `h2`, once:"""),
    Cell("code", """\
def cross_entropy_loss(x, y):
    # Correction: the lecture's tf.log(tf.nn.softmax(class_probs)) applied softmax twice.
    return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits(x)))"""),
    Cell("markdown", """\
We also need to define what a training step looks like. The command below tells tensorflow to optimize the
loss function using a Stochastic Gradient Descent (SGD) step with a learning rate of 0.5:

*TF2 note: `tf.GradientTape` records the computation and gives the gradient of the loss; the SGD step moves
each variable by 0.5 times its gradient, what `tf.train.GradientDescentOptimizer(0.5).minimize` did. It
returns the batch's loss from before the step, as `sess.run([cross_entropy_loss, train_step])` did.*"""),
    Cell("code", """\
learning_rate = 0.5


@tf.function(input_signature=[x, y])
def train_step(x, y):
    with tf.GradientTape() as tape:
        loss = cross_entropy_loss(x, y)
    gradients = tape.gradient(loss, variables)
    for variable, gradient in zip(variables, gradients):
        variable.assign_sub(learning_rate * gradient)
    return loss"""),
    Cell("markdown", """\
We need to create a session that will run on the computational graph:

*TF2 note: no session. TensorFlow 2 runs each operation as it is called (eagerly), and `@tf.function` above
compiled the training step into a graph, the part of a session's work that is left.*"""),
    Cell("code", "print('Running eagerly:', tf.executing_eagerly())"),
    Cell("markdown", """\
We also need to initialize the variables of the model:

*TF2 note: `tf.global_variables_initializer().run()` becomes assigning random values: Glorot-uniform weights
(what `tf.get_variable` drew by default) and zero biases.*"""),
    Cell("code", """\
def initialize_variables(seed=0):
    glorot = keras.initializers.GlorotUniform(seed=seed)
    W1.assign(glorot(W1.shape))
    W2.assign(glorot(W2.shape))
    b1.assign(tf.zeros_like(b1))
    b2.assign(tf.zeros_like(b2))


initialize_variables()"""),
    Cell("markdown", "We can use the session to feed the input to the model and get the value of a specific node:"),
    Cell("code", """\
batch_x = train_data[:5]
batch_y = train_labels[:5]

vis_probs = class_probs(batch_x)

print(vis_probs.numpy())"""),
    Cell("markdown", """\
Notice how we did not provide the labels since these are not part of the slice of the computational graph
for the class probabilities.

We can also perform an SGD step on this batch by running the session on the training step:"""),
    Cell("code", """\
for j in range(200):
    train_step(batch_x, batch_y)
vis_probs = class_probs(batch_x)
print(vis_probs.numpy())"""),
    Cell("markdown", """\
Notice how re-running the command above shifts the output of the model towards the actual labels. Of course
this instance of the model will be horribly overfit to these few digits. Let's re-initialize the model:"""),
    Cell("code", "initialize_variables(seed=1)  # new random weights"),
    Cell("markdown", """\
Instead we will cycle over the whole training dataset a few times. We will process the dataset in
mini-batches and take an SGD step for each such mini-batch."""),
    Cell("code", """\
epochs = 5

batch_size = 32

N = train_data.shape[0]

hist_loss = []

for epoch in range(epochs):
    print("Epoch:", epoch)

    for index in range(int(N/(batch_size))):

        batch_x = train_data[index*batch_size:(index+1)*batch_size]
        batch_y = train_labels[index*batch_size:(index+1)*batch_size]

        vis_loss = train_step(batch_x, batch_y)
        hist_loss += [vis_loss.numpy()]

plt.plot(hist_loss)
plt.show()"""),
    Cell("markdown", """\
Let's see what the model learns:

*TF2 note: the lecture waited for a key (`input()`) after each digit; here the five follow one another.*"""),
    Cell("code", """\
for j in range(5):
    digit = test_data[j].reshape([1, 784])
    actual_label = test_labels[j]

    plt.imshow(digit.reshape([28, 28]), cmap='gray')
    plt.show()
    print(actual_label)

    vis_probs = class_probs(digit)
    print(vis_probs.numpy())"""),
    Cell("markdown", "To test the model more 'formally' we can compute the accuracy on the test dataset:"),
    Cell("code", """\
def accuracy(x, y):
    correct_prediction = tf.equal(tf.argmax(y, 1), tf.argmax(class_probs(x), 1))
    return tf.reduce_mean(tf.cast(correct_prediction, tf.float32))


train_accuracy = accuracy(train_data, train_labels).numpy()
test_accuracy = accuracy(test_data, test_labels).numpy()

print("Accuracy on training data:", train_accuracy)
print("Accuracy on test data:", test_accuracy)"""),
)


def lesson_notebook():
    """The lesson as an ``nbformat`` version-4 notebook (not run: no outputs)."""
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell(cell.source) if cell.kind == "markdown"
                      else nbformat.v4.new_code_cell(cell.source) for cell in CELLS]
    notebook.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    }
    nbformat.validate(notebook)
    return notebook


def lesson_notebook_bytes() -> bytes:
    """The notebook as the bytes of an ``.ipynb`` file (NOTEBOOK_NAME), for a download."""
    import nbformat

    return nbformat.writes(lesson_notebook()).encode("utf-8")
