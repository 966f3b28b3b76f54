"""The abalone SageMaker Pipeline: preprocess -> baseline, train -> package -> evaluate -> MSE gate -> register | fail.

    PreprocessAbaloneData -> BaselineAbaloneDataQuality (the project's data-quality baseline, data_quality.py)
                          -> TrainAbaloneModel -> PackageAbaloneModel -> EvaluateAbaloneModel
        -> CheckMseAbaloneEvaluation -> MSE <= MseThreshold: RegisterAbaloneModel (model package)
                                        otherwise:           FailAbaloneModelMse (message has the MSE)

Training is the built-in XGBoost algorithm. PackageAbaloneModel puts the trained booster, the preprocessing
parameters fitted on the training split (preprocessing.json) and the serving script (inference.py) into one
model.tar.gz. That artifact is what the evaluation scores (raw test records through the serving code) and what is
registered: its container is the XGBoost framework image in script mode (SAGEMAKER_PROGRAM /
SAGEMAKER_SUBMIT_DIRECTORY), so the endpoint takes raw abalone records and answers the predicted rings.

The registered package carries its model-quality metrics (evaluation.json) and, in CustomerMetadataProperties
``TestDataS3Uri``, where its held-out raw test records live (label last), so the deploy repository's staging test
can replay them.

BaselineAbaloneDataQuality runs the project's own analyzer (``data_quality.py baseline``; no Model Monitor image,
which accounts that are not Model Monitor customers cannot use): ``statistics.json`` and ``constraints.json`` of the
training records as the endpoint receives them (raw, without the label; ``baseline/baseline.csv`` of the
preprocessing, with a header naming the features), in Model Monitor's formats, and a copy of the analyzer itself.
Each model version carries its own baseline: it is registered as the package's ``ModelMetrics``
(``ModelDataQuality``) and ``DriftCheckBaselines``, and the analyzer's S3 URI as
``CustomerMetadataProperties.DataQualityAnalyzerS3Uri``; the deploy repository's data-quality check runs that
analyzer against prod's captured requests.

Training carries no Debugger hook and no profiler (Debugger is closed to new customers too).

The default ``InputDataUrl`` is AWS's public copy of the abalone data in the pipeline's own Region
(``sagemaker-example-files-prod-<region>``): SageMaker jobs cannot read S3 input from another Region.
"""

from __future__ import annotations

from pathlib import Path

from sagemaker import image_uris
from sagemaker.drift_check_baselines import DriftCheckBaselines
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.model import Model
from sagemaker.model_metrics import MetricsSource, ModelMetrics
from sagemaker.processing import ProcessingInput, ProcessingOutput, ScriptProcessor
from sagemaker.sklearn.processing import SKLearnProcessor
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionLessThanOrEqualTo
from sagemaker.workflow.execution_variables import ExecutionVariables
from sagemaker.workflow.fail_step import FailStep
from sagemaker.workflow.functions import Join, JsonGet
from sagemaker.workflow.model_step import ModelStep
from sagemaker.workflow.parameters import ParameterFloat, ParameterInteger, ParameterString
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_context import PipelineSession
from sagemaker.workflow.properties import PropertyFile
from sagemaker.workflow.steps import ProcessingStep, TrainingStep

HERE = Path(__file__).resolve().parent
SKLEARN_VERSION = "1.4-2"  # newest scikit-learn processing container the SDK knows
XGBOOST_VERSION = "3.0-5"  # newest built-in XGBoost container the SDK knows
# AWS's public copy of the UCI abalone data, one bucket per Region (as AWS's SageMaker Pipelines examples read it).
SAMPLE_DATA_URL = "s3://sagemaker-example-files-prod-{region}/datasets/tabular/uci_abalone/abalone.csv"
SERVING_PROGRAM = "inference.py"  # the serving script, at code/inference.py in model.tar.gz
# The registered container's environment, as the SDK sets it for a framework model whose code is in model.tar.gz.
SERVING_ENVIRONMENT = {
    "SAGEMAKER_PROGRAM": SERVING_PROGRAM,
    "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
    "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
    # A request without an Accept header gets CSV (the serving toolkit's own default is application/json).
    "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv",
}
HYPERPARAMETERS = {
    "objective": "reg:squarederror",
    "num_round": 50,
    "max_depth": 5,
    "eta": 0.2,
    "gamma": 4,
    "min_child_weight": 6,
    "subsample": 0.7,
}


def get_pipeline(
    region: str,
    role: str,
    default_bucket: str,
    pipeline_name: str,
    model_package_group_name: str,
    base_job_prefix: str = "abalone",
    sagemaker_session: PipelineSession | None = None,
) -> Pipeline:
    session = sagemaker_session or PipelineSession(default_bucket=default_bucket)
    prefix = f"s3://{default_bucket}/{base_job_prefix}"

    processing_instance_type = ParameterString("ProcessingInstanceType", default_value="ml.m5.xlarge")
    processing_instance_count = ParameterInteger("ProcessingInstanceCount", default_value=1)
    training_instance_type = ParameterString("TrainingInstanceType", default_value="ml.m5.xlarge")
    training_instance_count = ParameterInteger("TrainingInstanceCount", default_value=1)
    model_approval_status = ParameterString("ModelApprovalStatus", default_value="PendingManualApproval")
    input_data = ParameterString("InputDataUrl", default_value=SAMPLE_DATA_URL.format(region=region))
    mse_threshold = ParameterFloat("MseThreshold", default_value=6.0)

    # Outputs go under a per-execution prefix, so a package's test split stays where its metadata says.
    def execution_prefix(name: str) -> Join:
        return Join(on="/", values=[prefix, ExecutionVariables.PIPELINE_EXECUTION_ID, name])

    sklearn_processor = SKLearnProcessor(
        framework_version=SKLEARN_VERSION,
        instance_type=processing_instance_type,
        instance_count=processing_instance_count,
        base_job_name=f"{base_job_prefix}-preprocess",
        sagemaker_session=session,
        role=role,
    )
    step_process = ProcessingStep(
        name="PreprocessAbaloneData",
        step_args=sklearn_processor.run(
            # The data gets its own directory: the SDK mounts this step's code under /opt/ml/processing/input/code.
            inputs=[ProcessingInput(source=input_data, destination="/opt/ml/processing/input/data")],
            outputs=[
                ProcessingOutput(
                    output_name=name, source=f"/opt/ml/processing/{name}", destination=execution_prefix(name)
                )
                for name in ("train", "validation", "test", "preprocessing", "baseline")
            ],
            code=str(HERE / "preprocess.py"),
            arguments=["--input-dir", "/opt/ml/processing/input/data", "--output-dir", "/opt/ml/processing"],
        ),
    )
    outputs = step_process.properties.ProcessingOutputConfig.Outputs

    # The data-quality baseline of the records the endpoint receives, by the project's own analyzer.
    baseliner = SKLearnProcessor(
        framework_version=SKLEARN_VERSION,
        instance_type=processing_instance_type,
        instance_count=1,
        base_job_name=f"{base_job_prefix}-baseline",
        sagemaker_session=session,
        role=role,
    )
    step_baseline = ProcessingStep(
        name="BaselineAbaloneDataQuality",
        step_args=baseliner.run(
            inputs=[
                ProcessingInput(
                    source=outputs["baseline"].S3Output.S3Uri, destination="/opt/ml/processing/input/dataset"
                )
            ],
            outputs=[
                ProcessingOutput(
                    output_name="baseline",
                    source="/opt/ml/processing/baseline",
                    destination=execution_prefix("data-quality-baseline"),
                )
            ],
            code=str(HERE / "data_quality.py"),
            arguments=[
                "baseline",
                "--dataset-dir",
                "/opt/ml/processing/input/dataset",
                "--output-dir",
                "/opt/ml/processing/baseline",
            ],
        ),
    )

    image_uri = image_uris.retrieve("xgboost", region=region, version=XGBOOST_VERSION)
    estimator = Estimator(
        image_uri=image_uri,
        instance_type=training_instance_type,
        instance_count=training_instance_count,
        output_path=f"{prefix}/training",
        base_job_name=f"{base_job_prefix}-train",
        sagemaker_session=session,
        role=role,
        hyperparameters=HYPERPARAMETERS,
        # No Debugger hook and no profiler: Debugger is closed to new customers, and a training job that asks for
        # either fails in their accounts (the SDK adds both unless told not to).
        debugger_hook_config=False,
        disable_profiler=True,
    )
    step_train = TrainingStep(
        name="TrainAbaloneModel",
        step_args=estimator.fit(
            inputs={
                channel: TrainingInput(s3_data=outputs[channel].S3Output.S3Uri, content_type="text/csv")
                for channel in ("train", "validation")
            }
        ),
    )

    packager = ScriptProcessor(
        image_uri=image_uri,
        command=["python3"],
        instance_type=processing_instance_type,
        instance_count=1,
        base_job_name=f"{base_job_prefix}-package",
        sagemaker_session=session,
        role=role,
    )
    step_package = ProcessingStep(
        name="PackageAbaloneModel",
        step_args=packager.run(
            inputs=[
                ProcessingInput(
                    source=step_train.properties.ModelArtifacts.S3ModelArtifacts,
                    destination="/opt/ml/processing/model",
                ),
                ProcessingInput(
                    source=outputs["preprocessing"].S3Output.S3Uri,
                    destination="/opt/ml/processing/preprocessing",
                ),
                ProcessingInput(
                    source=str(HERE / SERVING_PROGRAM), destination="/opt/ml/processing/serving-code"
                ),
            ],
            outputs=[
                ProcessingOutput(
                    output_name="model",
                    source="/opt/ml/processing/packaged",
                    destination=execution_prefix("model"),
                )
            ],
            code=str(HERE / "package.py"),
            arguments=[
                "--model-dir",
                "/opt/ml/processing/model",
                "--preprocessing-dir",
                "/opt/ml/processing/preprocessing",
                "--code-dir",
                "/opt/ml/processing/serving-code",
                "--program",
                SERVING_PROGRAM,
                "--output-dir",
                "/opt/ml/processing/packaged",
            ],
        ),
    )
    packaged_model = step_package.properties.ProcessingOutputConfig.Outputs["model"].S3Output.S3Uri

    evaluation_report = PropertyFile(
        name="AbaloneEvaluationReport", output_name="evaluation", path="evaluation.json"
    )
    evaluator = ScriptProcessor(
        image_uri=image_uri,
        command=["python3"],
        instance_type=processing_instance_type,
        instance_count=1,
        base_job_name=f"{base_job_prefix}-evaluate",
        sagemaker_session=session,
        role=role,
    )
    step_eval = ProcessingStep(
        name="EvaluateAbaloneModel",
        step_args=evaluator.run(
            inputs=[
                ProcessingInput(source=packaged_model, destination="/opt/ml/processing/model"),
                ProcessingInput(source=outputs["test"].S3Output.S3Uri, destination="/opt/ml/processing/test"),
            ],
            outputs=[
                ProcessingOutput(
                    output_name="evaluation",
                    source="/opt/ml/processing/evaluation",
                    destination=execution_prefix("evaluation"),
                )
            ],
            code=str(HERE / "evaluate.py"),
            arguments=[
                "--model-dir",
                "/opt/ml/processing/model",
                "--test-dir",
                "/opt/ml/processing/test",
                "--output-dir",
                "/opt/ml/processing/evaluation",
                "--program",
                SERVING_PROGRAM,
            ],
        ),
        property_files=[evaluation_report],
    )

    # Read from the step's output, so registration waits for the baseline.
    baseline_uri = step_baseline.properties.ProcessingOutputConfig.Outputs["baseline"].S3Output.S3Uri

    def baseline_file(name: str) -> MetricsSource:
        return MetricsSource(
            s3_uri=Join(on="/", values=[baseline_uri, name]), content_type="application/json"
        )

    model_metrics = ModelMetrics(
        model_statistics=MetricsSource(
            s3_uri=Join(on="/", values=[execution_prefix("evaluation"), "evaluation.json"]),
            content_type="application/json",
        ),
        model_data_statistics=baseline_file("statistics.json"),
        model_data_constraints=baseline_file("constraints.json"),
    )
    drift_check_baselines = DriftCheckBaselines(
        model_data_statistics=baseline_file("statistics.json"),
        model_data_constraints=baseline_file("constraints.json"),
    )
    # The packaged artifact, served by the XGBoost framework container in script mode (one container: serverless
    # endpoints do not support inference pipelines).
    model = Model(
        image_uri=image_uri,
        model_data=Join(on="/", values=[packaged_model, "model.tar.gz"]),
        env={**SERVING_ENVIRONMENT, "SAGEMAKER_REGION": region},
        sagemaker_session=session,
        role=role,
    )
    step_register = ModelStep(
        name="RegisterAbaloneModel",
        step_args=model.register(
            content_types=["text/csv"],
            response_types=["text/csv", "application/json"],
            inference_instances=["ml.t2.medium", "ml.m5.large", "ml.m5.xlarge"],
            transform_instances=["ml.m5.large"],
            model_package_group_name=model_package_group_name,
            approval_status=model_approval_status,
            model_metrics=model_metrics,
            drift_check_baselines=drift_check_baselines,
            customer_metadata_properties={
                "TestDataS3Uri": Join(on="/", values=[execution_prefix("test"), "test.csv"]),
                "DataQualityAnalyzerS3Uri": Join(on="/", values=[baseline_uri, "data_quality.py"]),
            },
            description="Abalone ring-count regressor (XGBoost, raw records in), registered by the build pipeline",
        ),
    )

    mse = JsonGet(
        step_name=step_eval.name, property_file=evaluation_report, json_path="regression_metrics.mse.value"
    )
    step_fail = FailStep(
        name="FailAbaloneModelMse",
        error_message=Join(
            on=" ", values=["Model not registered: test MSE", mse, "is above MseThreshold", mse_threshold]
        ),
    )
    step_condition = ConditionStep(
        name="CheckMseAbaloneEvaluation",
        conditions=[ConditionLessThanOrEqualTo(left=mse, right=mse_threshold)],
        if_steps=[step_register],
        else_steps=[step_fail],
    )

    return Pipeline(
        name=pipeline_name,
        parameters=[
            processing_instance_type,
            processing_instance_count,
            training_instance_type,
            training_instance_count,
            model_approval_status,
            input_data,
            mse_threshold,
        ],
        steps=[step_process, step_baseline, step_train, step_package, step_eval, step_condition],
        sagemaker_session=session,
    )
