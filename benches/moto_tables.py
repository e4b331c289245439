"""moto's DynamoDB transactions and the size of the table: why the click bench decides its gates
on small tables (`benches/click.rs`, docs/benchmarks.md).

moto keeps a rollback copy of every table a `TransactWriteItems` touches, made with a deep copy
of the whole table for each item of the transaction; DynamoDB's latency does not depend on the
table's size. A click's decision lock is one such transaction of two items (the lock, and a
check that the gate is open). This script times that transaction, and a `GetItem` beside it,
against moto as the table grows, with items of about the size of a gate record.

Run by `scripts/bench` with the bench venv's Python (boto3); needs `GREENLIGHT_TEST_MOTO_URL`.
"""

import os
import statistics
import time
import uuid

import boto3

SIZES = (20, 60, 300, 1000, 3000)
TIMED = 20


def main():
    client = boto3.client("dynamodb", endpoint_url=os.environ["GREENLIGHT_TEST_MOTO_URL"],
                          region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    table = f"moto-tables-{uuid.uuid4().hex[:8]}"
    client.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST")
    body = "x" * 1500  # a gate record's JSON is 1 to 2 KB

    def gate(i):
        return {"pk": {"S": f"GATE#{i}"}, "sk": {"S": "GATE"}}

    def lock(i):
        started = time.perf_counter()
        client.transact_write_items(TransactItems=[
            {"Put": {"TableName": table,
                     "Item": {"pk": {"S": f"GATE#{i}"}, "sk": {"S": "DECISION"},
                              "body": {"S": "{}"}},
                     "ConditionExpression": "attribute_not_exists(pk)"}},
            {"ConditionCheck": {"TableName": table, "Key": gate(i),
                                "ConditionExpression": "#s = :open",
                                "ExpressionAttributeNames": {"#s": "status"},
                                "ExpressionAttributeValues": {":open": {"S": "open"}}}}])
        return time.perf_counter() - started

    def read(i):
        started = time.perf_counter()
        client.get_item(TableName=table, Key=gate(i))
        return time.perf_counter() - started

    print()
    print("### moto's transactions and the table's size (`benches/moto_tables.py`)")
    print()
    print(f"A click's decision lock (`TransactWriteItems`: a create-only put and a condition check) "
          f"and a `GetItem`, against moto, {TIMED} of each per row, median:")
    print()
    print("| items in the table | `TransactWriteItems` (2 items) | `GetItem` |")
    print("| ---: | ---: | ---: |")
    written = 0
    for size in SIZES:
        for i in range(written, size):
            item = dict(gate(i), status={"S": "open"}, body={"S": body})
            client.put_item(TableName=table, Item=item)
        written = size
        locks = [lock(i) for i in range(size - TIMED, size)]
        reads = [read(i) for i in range(TIMED)]
        print(f"| {size} | {statistics.median(locks) * 1000:.1f} ms | "
              f"{statistics.median(reads) * 1000:.1f} ms |")
    client.delete_table(TableName=table)


if __name__ == "__main__":
    main()
