"""Lecture: the lecture's notebook, cell by cell, run live on the digits in use.

Each step is one cell: its essential line or two of code, then what that code gives here and now.
Previous and Next (or the Left and Right arrow keys) move through the steps; the address bar holds
the step, so ``?step=12`` opens step 12; "Presenting" enlarges the type for the front of a classroom.
Only the steps that need a network import TensorFlow: the first step is as light as the Digits page.
"""

from __future__ import annotations

import math
from typing import Callable, Literal, NamedTuple, Sequence

import numpy as np
import streamlit as st

from core import lecture
from core.data.mnist import MnistData, flatten_images, normalize_images, one_hot
from core.evaluation.evaluate import saved_train_accuracy
from core.lesson_notebook import NOTEBOOK_NAME, lesson_notebook_bytes
from core.model.config import describe, preset, preset_name, random_seed
from core.model.predict import predict_logits, predict_proba, softmax
from core.model.store import ModelInfo, StoreError
from core.training.progress import RunState
from dashboard import action_message, caches, figures, session, training_view
from dashboard.html_blocks import bar_chart_html, code_html, gallery_html, pixel_table_html, png_data_uri
from dashboard.large_type import LARGE_TYPE_CSS
from dashboard.plain_text import escape

STEP_PARAMETER = "step"  # ?step=12 in the address bar: 1-based, as the steps are numbered on the page
# The step list's widget key, + the step shown: each step's list is a widget of its own. One list for every step,
# its value set from the step on each run, once sent the browser's stale 1 back when the name box opened at step 6
# (1 run in 2 of tests/test_browser_draw.py then test_browser_e2e.py), and its on_change took the student back to
# step 1.
JUMP = "lecture_jump_"
STEP_LIST = "lecture_step_list"  # the popover that holds it: open or folded
PRESENTING = "lecture_presenting"  # True while the type is enlarged; kept from page to page
PRESENTING_PARAMETER = "presenting"  # ?presenting=1 in the address bar: kept on a reload
MEMORIZE_ROUNDS = "lecture_memorize_rounds"  # how many times step 11's cell ran: 200 steps each
RESEED = "lecture_reseed"  # seed of the network re-initialized in the re-initialize step
WAIT_SECONDS = 0.5  # how often the steps after the training look whether this session's run has saved its model
MEMO = "lecture_memo"  # results of the TensorFlow steps, so Previous/Next come back to them at once
SWEEP = (0.1, 0.5, 0.9, 0.99, 0.999, 1.0)  # how sure of the right digit, in the loss table
Network = Literal["untrained", "trained"]



class Step(NamedTuple):
    title: str
    code: str  # the lecture's essential line or two, as it wrote them
    render: Callable[[MnistData], None]  # what that code gives on the digits in use


def remembered(name: str, compute: Callable[[], object], *key) -> object:
    """compute() once per session, data set and ``key``: moving back to a step shows the same numbers at once."""
    data_key, _ = session.dataset()
    memo = st.session_state.setdefault(MEMO, {})
    if (name, data_key, *key) not in memo:
        with st.spinner("Running it (TensorFlow starts the first time: a few seconds)..."):
            memo[(name, data_key, *key)] = compute()
    return memo[(name, data_key, *key)]


def model_text(info: ModelInfo) -> str:
    """A saved model as the steps name it: its name, whose it is, and what it is."""
    return f"the model **{escape(info.name)}** ({session.owner_text(info)}; {escape(info.summary)})"


def trained_network(data: MnistData) -> tuple[str, object] | None:
    """(where it comes from, Keras model): this session's own model or the teacher's, never another student's
    (session.active_model(own=True)), which this session's finished run becomes; None if there is none.
    Raises StoreError when it cannot be read."""
    info = session.active_model(own=True)
    if info is None:
        return None
    return model_text(info), caches.load_model(info)


@st.fragment(run_every=WAIT_SECONDS)
def wait_for_the_run() -> None:
    """What the steps after the training show while this session's run goes on: they wait for its model to be
    saved, then the whole page shows it (they said "No trained network yet" right after the last epoch)."""
    snapshot = session.progress()
    if snapshot is None or snapshot.done:
        st.rerun()
    doing = {RunState.STARTING: "starting", RunState.TRAINING: f"training, {snapshot.fraction:.0%} done",
             RunState.EVALUATING: "measuring its accuracy and saving the model"}[snapshot.state]
    st.info(f"Waiting for this session's run ({doing}): this step shows its network as soon as it is saved.",
            icon=":material/hourglass_top:")


def number_table(columns: dict[str, Sequence], where=st) -> None:
    """A small table of numbers, fractions with four decimals, as an HTML table (st.table). Not st.dataframe: it
    draws on a canvas, whose code the browser fetches before it paints a step that shows one, and which the
    projector's larger type (dashboard.large_type) cannot reach."""
    where.table({name: [f"{value:.4f}" if isinstance(value, (float, np.floating)) else value for value in values]
                 for name, values in columns.items()}, hide_index=True, width="content")


def cell(code: str) -> None:
    """One more cell of the lecture inside a step, shown as the step's first one is: its code, then what it gives."""
    st.html(code_html(code, "python"))


def first_digit_html(data: MnistData, size: int) -> str:
    return gallery_html([data.x_train[0]], [f"X_train[0]: a {data.y_train[0]}"], columns=1, size=size)


def load(data: MnistData) -> None:
    st.markdown(f"The digits in use: **{escape(data.description)}**. Each is 28×28 pixels, each pixel a grey value "
                "from 0 (paper) to 255 (ink).")
    shapes, digit = st.columns([2, 1])
    shapes.html(code_html(f"{data.x_train.shape}\n{data.x_test.shape}"))
    shapes.caption("Images × rows × columns, for the training set and then the test set.")
    digit.html(first_digit_html(data, 168))


def pixels(data: MnistData) -> None:
    st.markdown("The first training digit, as the numbers the network gets: 28 rows of 28 grey values.")
    if large_type():  # 28 columns of 16-px numbers need the page's whole width (840 px)
        st.html(f'<div style="overflow-x:auto">{pixel_table_html(data.x_train[0])}</div>')
        return
    table, digit = st.columns([3, 1])
    table.html(pixel_table_html(data.x_train[0]))
    digit.html(first_digit_html(data, 168))


def grid(data: MnistData) -> None:
    side = 5
    images, labels = data.x_train[: side * side], data.y_train[: side * side]
    pictures, printed = st.columns([3, 2])
    pictures.html(gallery_html(images, [""] * len(images), columns=side, size=72))
    printed.caption("The labels that come with them:")
    printed.html(code_html(np.array2string(labels.reshape(side, side) if len(labels) == side * side else labels)))


def flatten(data: MnistData) -> None:
    flat = flatten_images(data.x_train)  # (N, 784): a view, nothing is copied
    st.markdown("The network takes a list of 784 numbers, not a square: the 28 rows are laid end to end.")
    st.html(code_html(f"{flat.shape}\n{flatten_images(data.x_test).shape}"))
    square, strip = st.columns([1, 4])
    square.html(first_digit_html(data, 112))
    strip.caption(f"The same digit as one strip of {flat.shape[1]} pixels: row 0, then row 1, ... then row 27.")
    strip.html(f'<img src="{png_data_uri(flat[:1])}" alt="X_train[0] flattened" '
               'style="width:100%;height:48px;image-rendering:pixelated;border-radius:3px">')


def normalize(data: MnistData) -> None:
    low, high = int(data.x_train.min()), int(data.x_train.max())
    st.markdown("Each pixel is rescaled with the lowest value **L** and the highest value **H** in the data:")
    st.latex(r"x' = \frac{x - L}{H - L}" + rf"\qquad L = {low},\; H = {high}")
    if high == low:
        st.warning(f"Every training pixel here is {low}, so H - L = 0 and the formula cannot be used. "
                   "Load MNIST digits on the Digits page.")
        return
    digit = data.x_train[0]
    row = int(np.argmax((digit > 0).sum(axis=1)))  # the row with the most ink shows the most
    after = (digit[row].astype(np.float32) - low) / (high - low)
    st.caption(f"Row {row} of X_train[0], before (0-255):")
    st.html(code_html(np.array2string(digit[row], max_line_width=200)))
    st.caption("and after (0-1):")
    st.html(code_html(np.array2string(after, precision=3, max_line_width=200)))
    if np.allclose(after, normalize_images(digit[row])):
        st.caption(f"With L = {low} and H = {high} this is dividing by 255, which is what this app does "
                   "(core.data.normalize_images) for every digit.")
    else:
        st.caption("This app divides by 255 for every digit (core.data.normalize_images); with these digits' "
                   f"L = {low} and H = {high} the lecture's formula gives other numbers.")
    cell("train_data = normalize_data(train_data)\nprint(train_data[0])")
    flat = (flatten_images(data.x_train[:1]).astype(np.float32) - low) / (high - low)  # (1, 784), as the lecture's
    st.caption(f"All {flat.shape[1]} values of the first digit, as the lecture printed them (scroll):")
    st.html(f'<div style="max-height:16rem;overflow-y:auto">{code_html(np.array2string(flat[0]))}</div>')


def one_hot_labels(data: MnistData) -> None:
    labels = data.y_train[:5]
    st.markdown("The network answers with 10 numbers, one per digit, so each label becomes 10 numbers: "
                "a 1 in the label's place and 0 everywhere else.")
    places = ", ".join(f"({row}, {label})" for row, label in enumerate(labels.tolist()))
    st.markdown(f"`to_one_hot` starts from `np.zeros(({len(labels)}, 10))`, one row of ten 0s per label, then puts "
                f"1.0 in row *i*, column `labels[i]`, all at once: at {places}.")
    st.html(code_html(f"Initial labels:\n{labels}\n1-hot representation:\n{one_hot(labels)}"))


def network_diagram(shapes: list[tuple[str, tuple[int, ...]]], activation: str) -> str:
    """The layers as boxes and the weights between them as labelled arrows, in plain HTML."""
    sizes = [shape[0] for name, shape in shapes if name.startswith("W")] + [shapes[-1][1][0]]
    boxes = [f"<b>x</b><br>{sizes[0]} pixels"]
    boxes += [f"<b>h{layer}</b><br>{units} units, {activation}" for layer, units in enumerate(sizes[1:-1], 1)]
    boxes.append(f"<b>h{len(sizes) - 1}</b><br>{sizes[-1]} logits<br>→ softmax")
    arrows = [f"{weights} ({' × '.join(map(str, shape))})<br>{bias} ({bias_shape[0]})"
              for (weights, shape), (bias, bias_shape) in zip(shapes[::2], shapes[1::2])]
    box = ('<div style="border:2px solid #1f6feb;border-radius:8px;padding:10px 16px;text-align:center;'
           'min-width:120px">{}</div>')
    arrow = ('<div style="text-align:center;color:#57606a;font-size:0.9rem;padding:0 8px">{}'
             '<div style="font-size:1.6rem;color:#1f6feb">⟶</div></div>')
    parts = [box.format(boxes[0])]
    for label, content in zip(arrows, boxes[1:]):
        parts += [arrow.format(label), box.format(content)]
    return f'<div style="display:flex;align-items:center;flex-wrap:wrap;gap:4px">{"".join(parts)}</div>'


def network(data: MnistData) -> None:
    config = preset("lecture")
    shapes = lecture.weight_shapes(config)
    fresh = remembered("fresh network", lecture.fresh_network)
    frameworks = remembered("frameworks", lecture.frameworks)
    batch_shapes = {count: predict_logits(fresh, data.x_train[:count]).shape for count in (1, 5)}
    st.markdown(
        f"**The inputs (In[13]-[14]).** TensorFlow 1 declared them as placeholders, filled at each `sess.run`. "
        f"`None` is the batch size: not known in advance, so the same network takes one digit or 60,000. This app runs "
        f"{frameworks}, which has no placeholders: the network's input is declared as `keras.Input(shape=(28, 28))`, "
        f"whose shape is `{fresh.input_shape}` (the `Flatten` layer makes the 784), and its answer is "
        f"`{fresh.output_shape}`. Given 1 digit it answers {batch_shapes[1]}, given 5 {batch_shapes[5]}. The labels "
        "`y` are no input of the network: they go to the loss (step 8).")
    st.markdown("**The layers (In[15]).**")
    st.html(network_diagram(shapes, config.activation))
    st.latex(r"h_1 = \tanh(x\,W_1 + b_1) \qquad h_2 = h_1 W_2 + b_2 \qquad "
             r"\text{class\_probs} = \mathrm{softmax}(h_2)")
    counts = [math.prod(shape) for _, shape in shapes]
    number_table({"weights": [name for name, _ in shapes],
                  "shape": [" × ".join(map(str, shape)) for _, shape in shapes], "numbers": counts})
    st.markdown(f"**{sum(counts):,} numbers** in all, each learned from the digits. This app builds the same "
                f"network with Keras: `build_model(preset('lecture'))`, {describe(config)}.")
    starting_weights(fresh)


def starting_weights(model) -> None:
    """In[15]'s ``tf.get_variable`` and ``tf.zeros``: what a new network's weights start as."""
    weights = lecture.starting_weights(model)
    st.markdown("**Their starting values.** `tf.get_variable` fills W1 and W2 with random numbers drawn evenly "
                "between −limit and +limit, limit = √(6 / (inputs + outputs)) (Glorot uniform, its default), and "
                "`tf.zeros` starts b1 and b2 at 0. Keras does the same for this network, as it builds it:")
    number_table({
        "weights": [weight.name for weight in weights],
        "lowest": [float(weight.values.min()) for weight in weights],
        "highest": [float(weight.values.max()) for weight in weights],
        "limit": [weight.limit for weight in weights],
    })
    first = weights[0]
    st.caption(f"The {first.values.size:,} values of {first.name}, counted in ten equal slices of "
               f"±{first.limit:.4f}: about as many in each, as an even draw gives.")
    st.html(bar_chart_html(first.counts.tolist(), [f"{edge:+.3f}" for edge in
                                                   np.linspace(-first.limit, first.limit, 11)[:-1] + first.limit / 10],
                           height=90))


def softmax_and_loss(data: MnistData) -> None:
    st.markdown("**softmax** turns the 10 logits into probabilities: raise e to each, divide by their sum. "
                "The lecture's loss then applies softmax **a second time**, to probabilities.")
    trained = None
    try:
        trained = trained_network(data)
    except StoreError as error:
        st.warning(f"{escape(error)}. Showing the untrained network instead.")
    pick, which = st.columns(2)
    index = pick.number_input(f"Training digit (0 to {len(data.x_train) - 1:,})", 0, len(data.x_train) - 1,
                              key="lecture_digit")
    networks: dict[Network, str] = {"trained": f"the trained network: {trained[0]}"} if trained else {}
    networks["untrained"] = "an untrained network"
    chosen: Network = which.radio("Network", list(networks), format_func=networks.get, key="lecture_network")
    model = trained[1] if chosen == "trained" else remembered("fresh network", lecture.fresh_network)
    label = int(data.y_train[index])
    logits = predict_logits(model, data.x_train[index])  # (1, 10)
    class_probs = softmax(logits)
    digit, table = st.columns([1, 3])
    digit.html(gallery_html([data.x_train[index]], [f"X_train[{index}]: a {label}"], columns=1, size=140))
    columns = {"logit h2": logits[0], "class_probs = softmax(h2)": class_probs[0],
               "softmax(class_probs)": softmax(class_probs.astype(np.float64))[0]}
    number_table({"digit": list(range(10)), **columns}, table)
    floor = lecture.lecture_loss_floor()
    meant, written, lowest = st.columns(3)
    meant.metric("Cross-entropy (what the lecture meant)", f"{lecture.cross_entropy(logits, [label])[0]:.4f}")
    written.metric("The lecture's loss (softmax twice)", f"{lecture.lecture_loss(logits, [label])[0]:.4f}")
    lowest.metric("Lowest the lecture's loss can go", f"{floor:.4f}")
    st.markdown(
        f"**Why the lecture's loss never reaches 0.** Probabilities lie between 0 and 1, so the ten numbers "
        f"the second softmax gets differ by at most 1, and after raising e to them by at most a factor "
        f"e ≈ {math.e:.3f}. Even a perfect answer, 1 for the right digit and 0 for the nine others, comes out of "
        f"the second softmax as only e / (e + 9) = {math.exp(-floor):.3f} for the right digit, and "
        f"−log {math.exp(-floor):.3f} = **{floor:.4f}**. However well the network learns, this loss stays "
        "above that, and its slope flattens, so learning slows. The cross-entropy of the logits goes all the "
        "way to 0 as the right answer gets surer: that is the loss this app trains with."
    )
    cross_entropies, lecture_losses = lecture.confidence_sweep(SWEEP)
    st.caption("The two losses as the network gets surer of the right digit (the rest shared by the others):")
    losses = {"cross-entropy": cross_entropies, "the lecture's loss": lecture_losses}
    number_table({"probability of the right digit": list(SWEEP), **losses})


def sgd_step(data: MnistData) -> None:
    batch = min(preset("lecture").batch_size, len(data.x_train))
    st.markdown(f"One step of stochastic gradient descent on the first {batch} training digits: every weight moves "
                f"a little against the slope of the loss, {preset('lecture').learning_rate:g} times that slope.")
    before, after = remembered("one SGD step", lambda: lecture.one_sgd_step(data))
    left, right = st.columns(2)
    left.metric("Loss on this batch before the step", f"{before:.4f}")
    right.metric("Loss on this batch after one step", f"{after:.4f}", delta=f"{after - before:+.4f}",
                 delta_color="inverse")
    st.caption("The loss is the cross-entropy the lecture meant, averaged over the batch.")


def five_digits_asked(data: MnistData, name: str, compute: Callable[[], np.ndarray], *key) -> None:
    """The first five training digits and a network's (5, 10) probabilities for them, remembered as ``name``."""
    labels = data.y_train[:5]
    st.html(gallery_html(data.x_train[:5], [f"a {label}" for label in labels], columns=5, size=84))
    probabilities = remembered(name, compute, *key)
    st.plotly_chart(figures.probability_table(probabilities, labels.tolist()), key=f"lecture_{name}")


def untrained(data: MnistData) -> None:
    fresh = remembered("fresh network", lecture.fresh_network)
    first = lecture.starting_weights(fresh)[0]
    st.markdown(
        "**The session and the initialisation (In[19]-[20]).** TensorFlow 1 first built a graph of operations, "
        "then ran it in a session, and `tf.global_variables_initializer().run()` gave the variables their first "
        "values. TensorFlow 2 and Keras need neither: each operation runs as soon as it is called (eager "
        "execution), and Keras draws the weights when it builds the network, so `build_model(preset('lecture'))` "
        f"is ready to use: its W1 starts `{np.array2string(first.values[0, :4], precision=4)}...` (step 7). "
        "Asking it about digits is calling it, `model(train_data[:5])`, where the lecture wrote "
        "`sess.run([class_probs], feed_dict={x: train_data[:5]})`.")
    st.markdown("A network that has learned nothing yet, asked about the first five training digits: "
                "about 0.1 for every digit, a guess.")
    five_digits_asked(data, "untrained", lambda: lecture.untrained_probabilities(data))


def memorize(data: MnistData) -> None:
    rounds = st.session_state.setdefault(MEMORIZE_ROUNDS, 1)
    st.markdown("200 SGD steps on **just these five digits**: the network becomes sure of each of them. "
                "It has memorized five pictures, not learned to read digits: badly overfit.")
    # The lecture re-ran its cell: 200 steps more from where the network was. The same steps from the same start
    # give the same network, so 200 x rounds steps from the start are that.
    st.button("200 more steps", icon=":material/replay:",
              on_click=lambda: st.session_state.update({MEMORIZE_ROUNDS: rounds + 1}),
              help="Run the cell again, as the lecture suggests: the answers move further towards the labels")
    if rounds > 1:
        st.caption(f"After {200 * rounds:,} steps ({rounds} runs of the cell):")
    five_digits_asked(data, "memorized", lambda: lecture.memorize_five(data, steps=200 * rounds), rounds)


def reinitialize(data: MnistData) -> None:
    seed = st.session_state.setdefault(RESEED, 1)
    st.markdown("New random weights: the memorized digits are forgotten and the network guesses again.")
    st.button("Re-initialize again", on_click=lambda: st.session_state.update({RESEED: seed + 1}))
    five_digits_asked(data, "reinitialized", lambda: lecture.untrained_probabilities(data, seed=seed), seed)


def start_lecture_run() -> None:
    action_message.clear("lecture_start")
    if not session.training_running():
        try:
            session.start_training(preset("lecture").replace(seed=random_seed()))  # each student's run its own
        except ValueError as error:  # the teacher's class rules, or the server's MNIST_MAX_TRAINING
            action_message.report("lecture_start", "error", f"Training cannot start: {error}.")


def train(data: MnistData) -> None:
    config = preset("lecture")
    steps = len(data.x_train) // config.batch_size
    st.markdown(f"Now the whole training set, {config.epochs} times over, in batches of {config.batch_size}: "
                f"{steps:,} SGD steps per epoch, {config.epochs * steps:,} in all. The chart shows each batch's "
                "loss as it goes, the lecture's `hist_loss`: the cross-entropy this run learns from, and beside it "
                "the loss the lecture plotted (softmax twice), which flattens out above "
                f"{lecture.lecture_loss_floor():.2f} "
                "however well the network reads (step 8 says why).")
    running = session.training_running()
    with st.container(horizontal=True, vertical_alignment="center"):  # each its own width: never cut to "Tr.."
        st.button(f"Train for {config.epochs} epochs", type="primary", on_click=start_lecture_run, disabled=running)
        st.page_link("views/train.py", label="The same run on the Train page", icon=":material/model_training:")
    action_message.show("lecture_start", keep=True)
    job = session.job()
    if job is not None and preset_name(job.config) != "lecture":
        st.caption(f"This session's run was started on the Train page: {describe(job.config)}.")
    if running:
        training_view.live_view(lecture_loss=True)
    elif job is not None:
        training_view.results_view(job.snapshot(), lecture_loss=True)


def test_digits(data: MnistData) -> None:
    if session.training_running():
        wait_for_the_run()
        return
    try:
        trained = trained_network(data)
    except StoreError as error:
        st.error(f"{escape(error)}. Choose another model on the Evaluate page, or train again a step back.")
        return
    if trained is None:
        st.info("No trained network yet: train it in the step before, or on the Train page.")
        return
    source, model = trained
    st.markdown(f"The first five **test** digits, which the network never saw, read by {source}:")
    labels = data.y_test[:5]
    st.html(gallery_html(data.x_test[:5], [f"a {label}" for label in labels], columns=5, size=84))
    st.plotly_chart(figures.probability_table(predict_proba(model, data.x_test[:5]), labels.tolist()),
                    key="lecture_test_digits")


def accuracy(data: MnistData) -> None:
    if session.training_running():
        wait_for_the_run()
        return
    info = session.active_model(own=True)
    if info is None:
        st.info("No trained network yet: train it two steps back, or on the Train page.")
        return
    data_key, _ = session.dataset()
    try:
        evaluation = caches.evaluation(info, data_key, data)
        train_accuracy = saved_train_accuracy(info, data, evaluation)
        if train_accuracy is None:  # saved for other digits than these: measure it here
            train_accuracy = caches.train_accuracy(info, data_key, data)
    except (StoreError, ValueError) as error:
        st.error(f"{escape(error)}. Choose another model on the Evaluate page, or train again two steps back.")
        return
    source = model_text(info)
    test_accuracy = evaluation.test_accuracy
    st.markdown(f"The fraction of digits whose highest probability is the right digit, for {source}:")
    left, right = st.columns(2)
    # Fractions with four decimals, as the lecture's last cell prints them (0.9615).
    left.metric("Accuracy on training data", f"{train_accuracy:.4f}")
    right.metric("Accuracy on test data", f"{test_accuracy:.4f}")
    st.caption("The lecture printed 0.97026664 and 0.9615 for its own run.")


STEPS = [
    Step("Load the digits", "mnist = np.load('mnist_data.npz')\nX_train = mnist['X_train']\n"
         "X_test = mnist['X_test']\nprint(X_train.shape)\nprint(X_test.shape)", load),
    Step("One digit, pixel by pixel", "print(X_train[0])\nplt.imshow(X_train[0], cmap='gray')", pixels),
    Step("The first 25 digits and their labels",
         "for i in range(sz*sz):\n    plt.subplot(sz, sz, i+1)\n    plt.imshow(X_train[i], cmap='gray')\n"
         "print(y_train[:sz*sz].reshape([sz, sz]))", grid),
    Step("Flatten", "train_data = X_train.reshape([-1, 28*28])\ntest_data = X_test.reshape([-1, 28*28])", flatten),
    Step("Normalize to 0-1", "def normalize_data(x):\n    L = np.min(x)\n    H = np.max(x)\n"
         "    return (x.astype(np.float32) - L) / (H - L)", normalize),
    Step("One-hot labels", "def to_one_hot(labels, num):\n    one_hot_labels = np.zeros((labels.shape[0], num))\n"
         "    one_hot_labels[np.arange(labels.shape[0]), labels] = 1.0\n    return one_hot_labels\n\n"
         "train_labels = to_one_hot(y_train, 10)\nprint(train_labels[:5])", one_hot_labels),
    Step("The network", "import tensorflow as tf\nx = tf.placeholder(tf.float32, [None, 784])\n"
         "y = tf.placeholder(tf.float32, [None, 10])\n\n"
         "W1 = tf.get_variable('W1', [784, h1_sz])  # h1_sz = 64\nb1 = tf.Variable(tf.zeros([h1_sz]))\n"
         "h1 = tf.tanh(tf.matmul(x, W1) + b1)\nW2 = tf.get_variable('W2', [h1_sz, 10])\n"
         "b2 = tf.Variable(tf.zeros([10]))\nh2 = tf.matmul(h1, W2) + b2", network),
    Step("Softmax and the loss", "class_probs = tf.nn.softmax(h2)\ncross_entropy_loss = tf.reduce_mean("
         "-tf.reduce_sum(y * tf.log(tf.nn.softmax(class_probs)), axis=[1]))", softmax_and_loss),
    Step("One SGD step", "train_step = tf.train.GradientDescentOptimizer(0.5).minimize(cross_entropy_loss)\n"
         "sess.run(train_step, feed_dict={x: batch_x, y: batch_y})", sgd_step),
    Step("The untrained network", "sess = tf.InteractiveSession()\ntf.global_variables_initializer().run()\n\n"
         "vis_probs = sess.run([class_probs], feed_dict={x: train_data[:5]})", untrained),
    Step("200 steps on five digits", "for j in range(200):\n"
         "    sess.run([train_step, class_probs], feed_dict={x: batch_x, y: batch_y})", memorize),
    Step("Re-initialize", "tf.global_variables_initializer().run()", reinitialize),
    Step("Train for 5 epochs", "for epoch in range(epochs):\n    for index in range(int(N/batch_size)):\n"
         "        [vis_loss, a] = sess.run([cross_entropy_loss, train_step], feed_dict={x: batch_x, y: batch_y})\n"
         "        hist_loss += [vis_loss]", train),
    Step("What the network learned", "digit = test_data[j].reshape([1, 784])\n"
         "[vis_probs] = sess.run([class_probs], feed_dict={x: digit})", test_digits),
    Step("Accuracy", "correct_prediction = tf.equal(tf.argmax(y, 1), tf.argmax(class_probs, 1))\n"
         "accuracy = tf.reduce_mean(tf.cast(correct_prediction, tf.float32))", accuracy),
]


def step_from_link() -> int:
    """The 1-based step the address bar asks for; a bad value is named in a warning and step 1 opens."""
    raw = st.query_params.get(STEP_PARAMETER)
    if raw is None:
        return 1
    number = int(raw) if raw.isdecimal() and len(raw) <= 3 else 0  # a link's value may be any length
    if 1 <= number <= len(STEPS):
        return number
    st.warning(escape(f"step={raw[:40]!r} in the link is not a step number from 1 to {len(STEPS)}; opening step 1."))
    st.query_params[STEP_PARAMETER] = "1"
    return 1


def go(number: int) -> None:
    st.query_params[STEP_PARAMETER] = str(number)


def jump(key: str) -> None:
    """A step chosen in the list: go there and fold the list away."""
    go(st.session_state[key])
    st.session_state[STEP_LIST] = False


def navigation(number: int, where: Literal["top", "bottom"]) -> None:
    """Previous and Next; at the top also the list of steps, and arrow keys for a presenter's clicker.

    A row that gives each button its label's width: in st.columns([1, 4, 1]) a 1024-px screen cut them to "P..".
    The list is a popover of choices, not a select box: the browser fetches a select box's code before it
    paints a page that shows one (0.2-0.3 s on a cold 2-core machine), and a popover's content only when opened."""
    top = where == "top"
    with st.container(horizontal=True, vertical_alignment="center",
                      horizontal_alignment="left" if top else "distribute"):
        st.button("Previous", key=f"lecture_previous_{where}", on_click=go, args=(number - 1,),
                  disabled=number == 1, shortcut="Left" if top else None, icon=":material/arrow_back:")
        if top:
            with st.popover(f"Step {number} of {len(STEPS)}: {STEPS[number - 1].title}", key=STEP_LIST,
                            on_change="rerun", width="stretch", icon=":material/list:", wrap=True):
                key = f"{JUMP}{number}"
                st.radio("Step", range(1, len(STEPS) + 1), index=number - 1, key=key, label_visibility="collapsed",
                         format_func=lambda step: f"{step}. {STEPS[step - 1].title}", on_change=jump, args=(key,))
        st.button("Next", key=f"lecture_next_{where}", on_click=go, args=(number + 1,),
                  disabled=number == len(STEPS), shortcut="Right" if top else None,
                  icon=":material/arrow_forward:", icon_position="right")


def presenting() -> bool:
    """Whether the type is enlarged: turned on here (kept from page to page) or by ?presenting=1 (a reload)."""
    if st.query_params.get(PRESENTING_PARAMETER) == "1":
        st.session_state[PRESENTING] = True
    on = bool(st.session_state.get(PRESENTING))
    if on:
        st.query_params[PRESENTING_PARAMETER] = "1"  # back in the address bar after a visit to another page
    return on


def large_type() -> bool:
    """Whether this page shows the projector's type: Presenting, or the present view (?present=1)."""
    return bool(st.session_state.get(PRESENTING)) or session.present_view()


def toggle_presenting() -> None:
    on = not st.session_state.get(PRESENTING, False)
    st.session_state[PRESENTING] = on
    if not on:
        st.query_params.pop(PRESENTING_PARAMETER, None)


def main() -> None:
    """The Lecture page: one step of the walk-through at a time."""
    on = presenting()
    with st.container(horizontal=True, vertical_alignment="bottom", horizontal_alignment="distribute"):
        st.title("Lecture", width="content")
        with st.container(horizontal=True, horizontal_alignment="right", width="content"):
            # The notebook is written when the button is pressed (a callable), not on every run of this first page.
            st.download_button("Download this lesson", data=lesson_notebook_bytes, file_name=NOTEBOOK_NAME,
                               mime="application/x-ipynb+json", on_click="ignore", icon=":material/download:",
                               help="The lecture's walk as a Jupyter notebook in TensorFlow 2, cell by cell, with "
                                    "the one correction (the double softmax) marked")
            # A button, not a toggle: the page already loads a button's code for Previous and Next, while a
            # toggle's (seven more files) would hold the first paint. Filled while on.
            st.button("Presenting", key="lecture_presenting_button", type="primary" if on else "secondary",
                      icon=":material/co_present:", on_click=toggle_presenting,
                      help="Larger type for a projector; click again for the normal size")
    if on:
        st.html(LARGE_TYPE_CSS)
    _, digits = session.dataset()
    current = step_from_link()
    navigation(current, "top")
    step = STEPS[current - 1]
    st.header(f"{current}. {step.title}", anchor=False)
    st.html(code_html(step.code, "python"))
    step.render(digits)
    st.divider()
    navigation(current, "bottom")


main()
