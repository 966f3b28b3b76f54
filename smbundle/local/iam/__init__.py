"""The embedded IAM: the SageMaker project roles as AWS sets them up, and enforcement of their policies.

- ``roles``: the project roles (trust and AWS managed policies), created when the account is prepared;
- ``principals``: role sessions as services create them (STS credentials), and who signed a request;
- ``evaluation``: identity-based policy evaluation (explicit deny, allow, implicit deny; conditions);
- ``actions`` / ``requests`` / ``resource_state``: which resources and context a request is authorized against;
- ``enforcement``: the one decision point, for in-process callers and for every signed API request;
- ``simulation``: ``iam:SimulatePrincipalPolicy`` answered by the same evaluator.

The service extensions never decide permissions themselves: they call ``enforcement.authorize``.
"""
