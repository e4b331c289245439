"""A lifecycle-hook Lambda in the style of the do-it-yourself recipe, written for the benchmarks.

This is not the recipe's code: it is a small handler written here to behave the way the recipe's
hook is described to behave, so that `benches/beside_recipe.py` can measure one invocation of it
beside one of `greenlight hook`:

- at import (Lambda's init), it creates its SSM and SNS clients with boto3;
- on the first invocation of a deployment (no `hookDetails` yet) it publishes a notification for
  the chat channel, whose buttons write the decision parameter;
- on every invocation it reads the decision parameter: absent, it answers `IN_PROGRESS` with
  `callBackDelay` 30, so ECS invokes it again 30 seconds later; present, it deletes the parameter
  and answers `SUCCEEDED` for `approved` and `FAILED` for anything else.

Environment: `DECISION_PARAMETER` (the one parameter the recipe's buttons write), `SNS_TOPIC_ARN`,
and whatever boto3 reads (`AWS_ENDPOINT_URL`, `AWS_REGION`, credentials): the benchmarks point it
at moto.
"""

import json
import os

import boto3

ssm = boto3.client("ssm")
sns = boto3.client("sns")

DECISION_PARAMETER = os.environ.get("DECISION_PARAMETER", "/ecs/deployment-approval")
TOPIC_ARN = os.environ.get("SNS_TOPIC_ARN", "")
CALLBACK_DELAY = 30


def notify(event):
    """Asks the channel for a decision (Amazon Q Developer's custom notification format)."""
    message = {
        "version": "1.0",
        "source": "custom",
        "content": {
            "textType": "client-markdown",
            "title": "Approve the production traffic shift?",
            "description": "Deployment {} is at {}.".format(
                event.get("resourceArn", "?"), event.get("lifecycleStage", "?")
            ),
        },
        "metadata": {
            "enableCustomActions": True,
            "additionalContext": {"parameterName": DECISION_PARAMETER},
        },
    }
    sns.publish(TopicArn=TOPIC_ARN, Message=json.dumps(message))


def lambda_handler(event, context):
    details = event.get("hookDetails") or {}
    if not details.get("notified"):
        notify(event)
        details = dict(details, notified=True)
    try:
        value = ssm.get_parameter(Name=DECISION_PARAMETER)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        return {"hookStatus": "IN_PROGRESS", "callBackDelay": CALLBACK_DELAY, "hookDetails": details}
    ssm.delete_parameter(Name=DECISION_PARAMETER)
    if value.strip().lower() == "approved":
        return {"hookStatus": "SUCCEEDED"}
    return {"hookStatus": "FAILED"}
