"""Plotly figures for the pages: plain functions of arrays, no Streamlit calls."""

from __future__ import annotations

import html
from typing import Sequence

import numpy as np
import plotly.colors
import plotly.graph_objects as go

from dashboard.loss_curve import LossCurve

DIGITS = [str(digit) for digit in range(10)]
RAW_COLOR = "rgba(31, 111, 235, 0.25)"  # the raw batch losses: faint, the smoothed line carries the eye
SMOOTH_COLOR = "#1f6feb"
ACCURACY_COLOR = "#d9480f"
LECTURE_COLOR = "#8250df"  # the lecture's own loss, beside the cross-entropy


MARGIN = dict(l=10, r=10, t=30, b=10)


def _layout(figure: go.Figure, height: int, **layout) -> go.Figure:
    figure.update_layout(height=height, margin=MARGIN, **layout)
    return figure


def loss_figure(curve: LossCurve, steps_per_epoch: int, total_steps: int,
                validation: Sequence[tuple[int, float]] = (), lecture: LossCurve | None = None,
                lecture_floor: float | None = None) -> dict:
    """Batch loss (raw and smoothed) against step, epoch boundaries, and validation accuracy, as a plotly figure
    spec (a dict) for ``st.plotly_chart``.

    The live Train page redraws it 2.5 times a second for each training student. Built as plotly's graph
    objects it took 100 ms of the server's interpreter per redraw (and st.plotly_chart 27 ms more to copy
    it back out); as this dict, which st.plotly_chart checks once, 16 ms (busy 2-core AMD EPYC).

    validation : (epoch, accuracy) pairs, drawn on a second axis at each epoch's last step.
    lecture, lecture_floor : the same batches' loss as the lecture wrote it (smoothed) and the lowest it can
        go, a dotted line; None for neither.
    """
    steps, losses = curve.raw_points()
    smooth_steps, smoothed = curve.smoothed_points()
    traces = [
        dict(type="scatter", x=steps, y=losses, mode="lines", name="batch loss", line=dict(color=RAW_COLOR, width=1)),
        dict(type="scatter", x=smooth_steps, y=smoothed, mode="lines", name="smoothed",
             line=dict(color=SMOOTH_COLOR, width=2)),
    ]
    if lecture is not None:
        lecture_steps, lecture_smoothed = lecture.smoothed_points()
        traces.append(dict(type="scatter", x=lecture_steps, y=lecture_smoothed, mode="lines",
                           name="the lecture's loss (softmax twice)", line=dict(color=LECTURE_COLOR, width=2)))
    floor_line, floor_note = [], []
    if lecture_floor is not None:  # a dotted line across the chart, named at its right end
        floor_line = [dict(type="line", x0=0, x1=1, xref="paper", y0=lecture_floor, y1=lecture_floor, yref="y",
                           line=dict(color=LECTURE_COLOR, dash="dot", width=1))]
        floor_note = [dict(x=1, xref="paper", y=lecture_floor, yref="y", xanchor="right", yanchor="top",
                           showarrow=False, font=dict(color=LECTURE_COLOR),
                           text=f"the lecture's loss never goes below {lecture_floor:.2f}")]
    if validation:
        epochs, accuracies = zip(*validation)
        traces.append(dict(type="scatter", x=[epoch * steps_per_epoch for epoch in epochs], y=list(accuracies),
                           yaxis="y2", mode="lines+markers", name="validation accuracy",
                           line=dict(color=ACCURACY_COLOR)))
    # A dotted line where each epoch ended so far; none at the very end of the run.
    last = min(len(curve), total_steps - 1)
    boundaries = range(steps_per_epoch, last + 1, steps_per_epoch) if steps_per_epoch else ()
    layout = dict(
        height=380, margin=MARGIN, xaxis=dict(title=dict(text="step (batch)"), range=[0, max(total_steps, 1)]),
        yaxis=dict(title=dict(text="loss" if lecture is not None else "cross-entropy loss"), rangemode="tozero"),
        yaxis2=dict(title=dict(text="validation accuracy"), overlaying="y", side="right", range=[0, 1],
                    showgrid=False),
        legend=dict(orientation="h", y=1.12), uirevision="training",
        shapes=[dict(type="line", x0=step, x1=step, y0=0, y1=1, yref="paper",
                     line=dict(color="gray", dash="dot", width=1)) for step in boundaries] + floor_line,
        annotations=floor_note,
    )
    return dict(data=traces, layout=layout)


def loss_overlay(curves: dict[str, LossCurve]) -> go.Figure:
    """The smoothed loss of several saved models on one chart, by step."""
    figure = go.Figure()
    for name, curve in curves.items():
        steps, smoothed = curve.smoothed_points()
        # A listed name is a file name in the models folder, and plotly reads a little HTML (<a>, <b>) in legends.
        figure.add_trace(go.Scatter(x=steps, y=smoothed, mode="lines", name=html.escape(name)))
    return _layout(figure, 380, xaxis_title="step (batch)", yaxis=dict(title="smoothed loss", rangemode="tozero"))


def probability_table(probabilities: np.ndarray, labels: Sequence[int]) -> go.Figure:
    """(N, 10) probabilities as a heatmap, one row per digit, named by its true label."""
    rows = [f"#{index + 1}: a {label}" for index, label in enumerate(labels)]
    figure = go.Figure(go.Heatmap(
        z=probabilities, x=DIGITS, y=rows, texttemplate="%{z:.3f}",
        colorscale="Blues", zmin=0, zmax=1, colorbar=dict(title="p"),
        hovertemplate="%{y}, p(%{x}) = %{z:.4f}<extra></extra>",
    ))
    return _layout(figure, 60 + 45 * len(rows), xaxis=dict(title="predicted digit", type="category"),
                   yaxis=dict(autorange="reversed"))


def confusion_figure(confusion: np.ndarray) -> go.Figure:
    """(10, 10) counts, rows = true digit, columns = predicted digit."""
    figure = go.Figure(go.Heatmap(
        z=np.log1p(confusion), text=confusion, texttemplate="%{text}", x=DIGITS, y=DIGITS, colorscale="Blues",
        showscale=False, hovertemplate="true %{y}, predicted %{x}: %{text}<extra></extra>",
    ))
    return _layout(figure, 520, xaxis=dict(title="predicted digit", type="category"),
                   yaxis=dict(title="true digit", type="category", autorange="reversed"))


def precision_recall_figure(precision: np.ndarray, recall: np.ndarray) -> go.Figure:
    """Per-digit precision and recall as grouped bars."""
    figure = go.Figure([
        go.Bar(x=DIGITS, y=precision, name="precision", marker_color=SMOOTH_COLOR),
        go.Bar(x=DIGITS, y=recall, name="recall", marker_color=ACCURACY_COLOR),
    ])
    low = float(min(precision.min(), recall.min()))
    return _layout(figure, 300, barmode="group", xaxis=dict(title="digit", type="category"),
                   yaxis=dict(range=[max(0.0, low - 0.05), 1], tickformat=".0%"))


def embedding_figure(points: np.ndarray, labels: np.ndarray, predictions: np.ndarray, indices: np.ndarray,
                     star: np.ndarray | None = None) -> go.Figure:
    """Digits on a 2-D map, one colour per true digit, wrong answers as crosses, a drawing as a star.

    points : (N, 2) map coordinates; labels, predictions : (N,) true and predicted digits;
    indices : (N,) each point's test-set index, carried as the point's customdata (see ``selected_digit``).
    star : (2,) where the drawing goes, or None for no drawing.
    """
    figure = go.Figure()
    palette = plotly.colors.qualitative.Plotly  # ten distinct colours, one per digit
    for digit in range(10):
        mine = np.flatnonzero(labels == digit)
        wrong = predictions[mine] != digit
        figure.add_trace(go.Scatter(
            x=points[mine, 0], y=points[mine, 1], mode="markers", name=str(digit), customdata=indices[mine],
            text=[f"a {digit}, read as {predicted}" for predicted in predictions[mine]],
            marker=dict(color=palette[digit], size=np.where(wrong, 9, 5), symbol=np.where(wrong, "x", "circle"),
                        line=dict(width=0)),
            hovertemplate="test digit #%{customdata}: %{text}<extra></extra>",
        ))
    if star is not None:
        figure.add_trace(go.Scatter(
            x=[star[0]], y=[star[1]], mode="markers", name="your drawing",
            marker=dict(symbol="star", size=20, color="black", line=dict(color="white", width=1)),
            hovertemplate="your drawing<extra></extra>",
        ))
    return _layout(figure, 560, xaxis=dict(showticklabels=False, title=""), yaxis=dict(showticklabels=False, title=""),
                   legend=dict(title="true digit"), clickmode="event+select")


def selected_digit(selection) -> int | None:
    """The test-set index of the point clicked on an ``embedding_figure`` (Streamlit's selection state), else None.

    selection : the ``selection`` of ``st.plotly_chart(..., on_select="rerun")``: a mapping whose
        "points" each carry the ``customdata`` the figure gave them (the drawing's star has none).
    """
    for point in (selection or {}).get("points", []):
        index = point.get("customdata")
        if isinstance(index, list):  # Plotly sends customdata as a list when a point carries several values
            index = index[0] if index else None
        if index is not None:
            return int(index)
    return None
