"""The dashboard's entry point: ``streamlit run dashboard/app.py``. Only routing, the shared sidebar and the server.

Streamlit reads this file in two ways. ``streamlit run`` first imports it as a module to find ``app``, the
server (``st.App``), which loads what the first page needs while it starts (dashboard/warm_up.py). Then each
browser session runs it as a script (``__main__``, as ``AppTest.from_file`` does too): the router below.
"""

import base64
from pathlib import Path

import streamlit as st

if __name__ == "__main__":  # a browser session's run
    from dashboard import keras_guard, sidebar, warm_up

    keras_guard.keep_keras_state()
    warm_up.wait_for_the_imports()  # while the server imports TensorFlow in the background (dashboard/warm_up.py)

    # The pages live in views/, not pages/: a pages/ folder beside this script switches Streamlit into its
    # older folder-based mode for the first request a fresh server gets, which skips this script on a deep
    # link. The icon is MNIST's first training digit, inline: a ":material/...:" icon is fetched from
    # fonts.gstatic.com, a request from every student's browser to a third party that an offline classroom
    # cannot answer; an emoji makes Streamlit compile its emoji catalogue (0.2 s of a cold server's first page);
    # an image file is decoded and served again for every session.
    ICON = "data:image/png;base64," + base64.b64encode((Path(__file__).parent / "icon.png").read_bytes()).decode()
    st.set_page_config(page_title="MNIST classroom", page_icon=ICON, layout="wide")
    page = st.navigation([
        st.Page("views/lecture.py", title="Lecture", icon=":material/school:", default=True),
        st.Page("views/digits.py", title="Digits", icon=":material/grid_view:"),
        st.Page("views/train.py", title="Train", icon=":material/model_training:"),
        st.Page("views/evaluate.py", title="Evaluate", icon=":material/fact_check:"),
        st.Page("views/draw.py", title="Draw", icon=":material/brush:"),
        st.Page("views/models.py", title="Models", icon=":material/inventory_2:"),
        st.Page("views/runs.py", title="Runs", icon=":material/pending_actions:"),
    ])
    sidebar.present_view()  # ?present=1: the projector's view
    sidebar.sidebar()
    page.run()
    warm_up.first_page_served()  # the server may now prepare TensorFlow for the class (dashboard/warm_up.py)
else:  # imported by `streamlit run`, which serves this app
    from dashboard.warm_up import lifespan

    app = st.App(Path(__file__).resolve(), lifespan=lifespan)
