"""``make demo``: the example DAGs, run with ``airflow dags test`` against the local stand-in.

See :mod:`demo.run_demo`. It lives outside ``dags_examples/`` so that Airflow never parses it as DAGs.
"""
