"""The Streamlit dashboard: ``streamlit run dashboard/app.py``; pages are thin views over core/."""
