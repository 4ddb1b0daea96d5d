package integration

import "unicode"

// service is one AWS service the integrations reach.
type service struct {
	// sdkName prefixes the error names of aws-sdk integrations (the
	// Java SDK v2's client name: DynamoDb, Sqs); serviceID is the
	// service's own name, in causes.
	sdkName, serviceID string
	// optimisedName prefixes the error names of the optimised
	// integrations (DynamoDB, SQS), and optimisedError, when set, is the
	// one error name they all have (SQS's AmazonSQSException).
	optimisedName, optimisedError string
	// optimised are the actions with an optimised integration
	// (arn:aws:states:::SERVICE:action).
	optimised []string
	// ops are the operations by the name the Resource gives them
	// (putItem for PutItem).
	ops map[string]opShape

	// signingName names the service in signatures and its endpoint's
	// host name; protocol is how its operations travel, with target
	// (awsJSON's X-Amz-Target prefix), version (awsQuery's Version) and
	// rest (the REST operations' HTTP bindings).
	signingName string
	protocol    protocol
	target      string
	version     string
	rest        map[string]restOp
}

// services is the table of supported services, by the name of their
// Resource (aws-sdk:SERVICE:action).
func services() map[string]*service {
	return map[string]*service{
		"lambda": {
			sdkName: "Lambda", serviceID: "Lambda", optimisedName: "Lambda",
			optimised:   []string{"invoke"},
			ops:         actions(lambdaOps()),
			signingName: "lambda", protocol: restJSON, rest: lambdaRest(),
		},
		"sqs": {
			sdkName: "Sqs", serviceID: "Sqs", optimisedName: "SQS", optimisedError: "AmazonSQSException",
			optimised:   []string{"sendMessage"},
			ops:         actions(sqsOps()),
			signingName: "sqs", protocol: awsJSON, target: "AmazonSQS",
		},
		"sns": {
			sdkName: "Sns", serviceID: "Sns", optimisedName: "SNS",
			optimised:   []string{"publish"},
			ops:         actions(snsOps()),
			signingName: "sns", protocol: awsQuery, version: "2010-03-31",
		},
		"dynamodb": {
			sdkName: "DynamoDb", serviceID: "DynamoDb", optimisedName: "DynamoDB",
			optimised:   []string{"getItem", "putItem", "updateItem", "deleteItem"},
			ops:         actions(dynamodbOps()),
			signingName: "dynamodb", protocol: awsJSON, target: "DynamoDB_20120810",
		},
		"s3": {
			sdkName: "S3", serviceID: "S3",
			ops:         actions(s3Ops()),
			signingName: "s3", protocol: restXML, rest: s3Rest(),
		},
	}
}

// lambdaRest are the HTTP bindings of Lambda's operations.
func lambdaRest() map[string]restOp {
	return map[string]restOp{
		"Invoke": {method: "POST", path: "/2015-03-31/functions/{FunctionName}/invocations", in: []binding{
			{"FunctionName", locURI, "FunctionName"},
			{"Qualifier", locQuery, "Qualifier"},
			{"InvocationType", locHeader, "X-Amz-Invocation-Type"},
			{"LogType", locHeader, "X-Amz-Log-Type"},
			{"ClientContext", locHeader, "X-Amz-Client-Context"},
			{"DurableExecutionName", locHeader, "X-Amz-Durable-Execution-Name"},
			{"TenantId", locHeader, "X-Amz-Tenant-Id"},
		}, out: []binding{
			{"StatusCode", locStatus, ""},
			{"FunctionError", locHeader, "X-Amz-Function-Error"},
			{"LogResult", locHeader, "X-Amz-Log-Result"},
			{"ExecutedVersion", locHeader, "X-Amz-Executed-Version"},
			{"DurableExecutionArn", locHeader, "X-Amz-Durable-Execution-Arn"},
		}},
		"GetFunction": {method: "GET", path: "/2015-03-31/functions/{FunctionName}", in: []binding{
			{"FunctionName", locURI, "FunctionName"},
			{"Qualifier", locQuery, "Qualifier"},
		}},
		"ListFunctions": {method: "GET", path: "/2015-03-31/functions", in: []binding{
			{"FunctionVersion", locQuery, "FunctionVersion"},
			{"Marker", locQuery, "Marker"},
			{"MasterRegion", locQuery, "MasterRegion"},
			{"MaxItems", locQuery, "MaxItems"},
		}},
	}
}

// actions keys operations by the action name Resources give them: the
// API's name in camelCase (PutItem: putItem).
func actions(ops []opShape) map[string]opShape {
	m := make(map[string]opShape, len(ops))
	for _, o := range ops {
		r := []rune(o.name)
		r[0] = unicode.ToLower(r[0])
		m[string(r)] = o
	}
	return m
}
