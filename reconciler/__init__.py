"""reconciler: GitOps for Amazon Ads account access.

The pipeline (one module per arrow)::

    manifests (YAML) --manifest--> Desired
    Amazon Ads API   --live------> Live
    (Desired, Live)  --planner---> Plan --render--> text / JSON / Markdown
    Plan             --apply-----> Report (+ journal)
"""

__version__ = "0.1.0"
