"""cfn-lint rules for what cfn-lint does not know about SageMaker serverless endpoints.

Used by `make lint` (`cfn-lint --append-rules smbundle/cfn_rules`); each rule is a small class with an id, a
message and a test (tests/test_cfn_rules.py). Every rule looks at each condition scenario of an endpoint config,
so both branches of `Fn::If [IsProdEnv, ...]` are checked.
"""
