"""``make demo``: the example DAGs, run with ``airflow dags test`` against the local stand-in.

See :mod:`dags_examples.demo.run_demo`. Excluded from DAG parsing by ``dags_examples/.airflowignore``.
"""
