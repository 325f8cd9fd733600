"""The pages, one module each, run by st.navigation in dashboard/app.py; each is one function called at its bottom."""
