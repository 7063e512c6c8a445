package dynalitetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The SDK and dynalite understand each other on the calls a lease table makes: create a
// table, put unless present, update on a condition, scan.
func TestRoundTrip(t *testing.T) {
	s := Require(t)
	ctx := context.Background()
	cl := s.Client()
	if _, err := cl.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String("leases"),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("k"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("k"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	}); err != nil {
		t.Fatalf("create table: %v", err)
	}
	// As on DynamoDB, a new table is CREATING for a moment (dynalite flips it to ACTIVE on its
	// next tick even with --createTableMs 0) and refuses items until it is ACTIVE.
	active := dynamodb.NewTableExistsWaiter(cl, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 100*time.Millisecond
	})
	if err := active.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("leases")}, 10*time.Second); err != nil {
		t.Fatalf("wait for the table: %v", err)
	}
	put := func() error {
		_, err := cl.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("leases"),
			Item:                map[string]types.AttributeValue{"k": &types.AttributeValueMemberS{Value: "a"}, "n": &types.AttributeValueMemberN{Value: "0"}},
			ConditionExpression: aws.String("attribute_not_exists(k)")})
		return err
	}
	if err := put(); err != nil {
		t.Fatalf("first put: %v", err)
	}
	var cf *types.ConditionalCheckFailedException
	if err := put(); !errors.As(err, &cf) {
		t.Fatalf("second put unless present: %v, want a failed condition", err)
	}
	update := func(seen string) error {
		_, err := cl.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("leases"),
			Key:                       map[string]types.AttributeValue{"k": &types.AttributeValueMemberS{Value: "a"}},
			UpdateExpression:          aws.String("SET n = n + :one, o = :me"),
			ConditionExpression:       aws.String("n = :seen"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}, ":me": &types.AttributeValueMemberS{Value: "w"}, ":seen": &types.AttributeValueMemberN{Value: seen}},
		})
		return err
	}
	if err := update("0"); err != nil {
		t.Fatalf("conditional update: %v", err)
	}
	if err := update("0"); !errors.As(err, &cf) {
		t.Fatalf("stale conditional update: %v, want a failed condition", err)
	}
	out, err := cl.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String("leases"), ConsistentRead: aws.Bool(true)})
	if err != nil || len(out.Items) != 1 {
		t.Fatalf("scan: %v, %d items", err, len(out.Items))
	}
	if n := out.Items[0]["n"].(*types.AttributeValueMemberN).Value; n != "1" {
		t.Fatalf("n = %s after one update, want 1", n)
	}
}
