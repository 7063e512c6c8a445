package kinesis

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/olapgate/olapgate/store"
)

// Attributes of a lease item. The key is the shard id: one table per source.
const (
	attrKey        = "leaseKey"
	attrOwner      = "leaseOwner"     // absent when nobody holds the lease
	attrCounter    = "leaseCounter"   // bumped by every renewal and take: a heartbeat
	attrEpoch      = "leaseEpoch"     // bumped by every take: which holding a write belongs to
	attrCheckpoint = "checkpoint"     // the shard's position, absent before its first commit
	attrParents    = "parentShardIds" // ParentShardId, AdjacentParentShardId; absent when none
)

// errLeaseLost refuses a write of a worker that no longer holds the shard's lease.
var errLeaseLost = fmt.Errorf("the shard's lease is held by another worker now (%w)", store.ErrPositionConflict)

// lease is one item of the lease table.
type lease struct {
	shard      string
	owner      string // "" when none
	counter    int64
	epoch      int64
	checkpoint string // "" before the shard's first commit
	parents    []string
}

// closed reports a shard read to its end and committed: never leased again, and its children
// may be.
func (l lease) closed() bool {
	return strings.HasPrefix(l.checkpoint, ClosedPrefix)
}

// leaseTable is the DynamoDB table of one source's leases. Every change is a conditional
// write, so two workers never both believe they hold a lease for long, and a write of one
// that lost it is refused.
type leaseTable struct {
	db   *dynamodb.Client
	name string
	tr   *http.Transport // the client's: its idle connections are closed on shutdown
}

func newLeaseTable(cfg Config, creds aws.CredentialsProvider) *leaseTable {
	o := dynamodb.Options{Region: cfg.Region, Credentials: creds}
	if cfg.Leases.Endpoint != "" {
		o.BaseEndpoint = aws.String(cfg.Leases.Endpoint)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	o.HTTPClient = &http.Client{Transport: tr}
	return &leaseTable{db: dynamodb.New(o), name: cfg.Leases.Table, tr: tr}
}

// ensure creates the table unless it exists (on-demand capacity), and waits until it is
// active.
func (t *leaseTable) ensure(ctx context.Context) error {
	_, err := t.db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(t.name),
		AttributeDefinitions: []dtypes.AttributeDefinition{{AttributeName: aws.String(attrKey), AttributeType: dtypes.ScalarAttributeTypeS}},
		KeySchema:            []dtypes.KeySchemaElement{{AttributeName: aws.String(attrKey), KeyType: dtypes.KeyTypeHash}},
		BillingMode:          dtypes.BillingModePayPerRequest,
	})
	var inUse *dtypes.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create lease table %s: %w", t.name, err)
	}
	for {
		out, err := t.db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(t.name)})
		if err != nil {
			return fmt.Errorf("describe lease table %s: %w", t.name, err)
		}
		if out.Table != nil && out.Table.TableStatus == dtypes.TableStatusActive {
			return nil
		}
		if !sleep(ctx, 100*time.Millisecond) {
			return fmt.Errorf("lease table %s not active: %w", t.name, ctx.Err())
		}
	}
}

// list reads every lease (a strongly consistent scan).
func (t *leaseTable) list(ctx context.Context) ([]lease, error) {
	var out []lease
	in := &dynamodb.ScanInput{TableName: aws.String(t.name), ConsistentRead: aws.Bool(true)}
	for {
		page, err := t.db.Scan(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("scan lease table %s: %w", t.name, err)
		}
		for _, item := range page.Items {
			l, err := decodeLease(item)
			if err != nil {
				return nil, fmt.Errorf("lease table %s: %w", t.name, err)
			}
			out = append(out, l)
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// get reads one lease (strongly consistent); ok is false when it does not exist.
func (t *leaseTable) get(ctx context.Context, shard string) (l lease, ok bool, err error) {
	out, err := t.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(t.name), Key: leaseKey(shard), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return lease{}, false, fmt.Errorf("read lease of %s: %w", shard, err)
	}
	if len(out.Item) == 0 {
		return lease{}, false, nil
	}
	l, err = decodeLease(out.Item)
	return l, err == nil, err
}

// create adds the lease of a shard nobody holds, unless it exists.
func (t *leaseTable) create(ctx context.Context, shard string, parents []string) error {
	item := map[string]dtypes.AttributeValue{
		attrKey:     &dtypes.AttributeValueMemberS{Value: shard},
		attrCounter: num(0),
		attrEpoch:   num(0),
	}
	if len(parents) > 0 {
		item[attrParents] = &dtypes.AttributeValueMemberSS{Value: parents}
	}
	_, err := t.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(t.name), Item: item,
		ConditionExpression: aws.String("attribute_not_exists(#k)"), ExpressionAttributeNames: map[string]string{"#k": attrKey}})
	if err != nil && !conditionFailed(err) {
		return fmt.Errorf("create lease of %s: %w", shard, err)
	}
	return nil
}

// take makes me the owner of a lease as it was seen (its counter unchanged since: nobody
// renewed or took it), bumping its counter and epoch. It returns the lease as now held;
// errLeaseLost when someone else moved it first.
func (t *leaseTable) take(ctx context.Context, seen lease, me string) (lease, error) {
	_, err := t.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(t.name), Key: leaseKey(seen.shard),
		UpdateExpression:          aws.String("SET #o = :me, #c = #c + :one, #e = #e + :one"),
		ConditionExpression:       aws.String("#c = :seen"),
		ExpressionAttributeNames:  map[string]string{"#o": attrOwner, "#c": attrCounter, "#e": attrEpoch},
		ExpressionAttributeValues: map[string]dtypes.AttributeValue{":me": str(me), ":one": num(1), ":seen": num(seen.counter)},
	})
	if err != nil {
		if conditionFailed(err) {
			return lease{}, fmt.Errorf("take lease of %s: %w", seen.shard, errLeaseLost)
		}
		return lease{}, fmt.Errorf("take lease of %s: %w", seen.shard, err)
	}
	l := seen
	l.owner, l.counter, l.epoch = me, seen.counter+1, seen.epoch+1
	return l, nil
}

// renew bumps the counter of a lease held (owner and epoch unchanged); errLeaseLost when it
// was taken.
func (t *leaseTable) renew(ctx context.Context, shard, me string, epoch int64) error {
	return t.updateHeld(ctx, "renew lease of "+shard, shard, me, epoch, "SET #c = #c + :one",
		map[string]string{"#c": attrCounter}, map[string]dtypes.AttributeValue{":one": num(1)})
}

// release gives a lease held up (others may take it at once); errLeaseLost when it was taken.
func (t *leaseTable) release(ctx context.Context, shard, me string, epoch int64) error {
	return t.updateHeld(ctx, "release lease of "+shard, shard, me, epoch, "REMOVE #o SET #c = #c + :one",
		map[string]string{"#c": attrCounter}, map[string]dtypes.AttributeValue{":one": num(1)})
}

// checkpoint moves a held shard's checkpoint.
func (t *leaseTable) checkpoint(ctx context.Context, shard, me string, epoch int64, pos string) error {
	return t.updateHeld(ctx, "checkpoint "+shard, shard, me, epoch, "SET #p = :pos",
		map[string]string{"#p": attrCheckpoint}, map[string]dtypes.AttributeValue{":pos": str(pos)})
}

// updateHeld applies update (with its attribute names and values; #o, #e, :me and :epoch are
// added) to a lease held by me at epoch; errLeaseLost when it was taken. The condition is the
// holding, owner and epoch: a worker that lost the lease, even one that took it back since,
// cannot change it.
func (t *leaseTable) updateHeld(ctx context.Context, what, shard, me string, epoch int64, update string, names map[string]string, values map[string]dtypes.AttributeValue) error {
	names["#o"], names["#e"] = attrOwner, attrEpoch
	values[":me"], values[":epoch"] = str(me), num(epoch)
	_, err := t.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(t.name), Key: leaseKey(shard),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String("#o = :me AND #e = :epoch"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	return heldErr(what, err)
}

func heldErr(what string, err error) error {
	switch {
	case err == nil:
		return nil
	case conditionFailed(err):
		return fmt.Errorf("%s: %w", what, errLeaseLost)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func conditionFailed(err error) bool {
	var cf *dtypes.ConditionalCheckFailedException
	return errors.As(err, &cf)
}

func leaseKey(shard string) map[string]dtypes.AttributeValue {
	return map[string]dtypes.AttributeValue{attrKey: str(shard)}
}

func str(s string) dtypes.AttributeValue { return &dtypes.AttributeValueMemberS{Value: s} }

func num(n int64) dtypes.AttributeValue {
	return &dtypes.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// decodeLease reads a lease item, refusing one whose attributes are not of the types the
// source writes (a table shared with something else).
func decodeLease(item map[string]dtypes.AttributeValue) (lease, error) {
	var l lease
	key, ok := item[attrKey].(*dtypes.AttributeValueMemberS)
	if !ok || key.Value == "" {
		return lease{}, fmt.Errorf("an item without a string %s", attrKey)
	}
	l.shard = key.Value
	bad := func(attr, want string) error {
		return fmt.Errorf("lease %s: %s is not %s", l.shard, attr, want)
	}
	var err error
	for _, a := range []struct {
		name string
		dst  *int64
	}{{attrCounter, &l.counter}, {attrEpoch, &l.epoch}} {
		v, ok := item[a.name].(*dtypes.AttributeValueMemberN)
		if !ok {
			return lease{}, bad(a.name, "a number")
		}
		if *a.dst, err = strconv.ParseInt(v.Value, 10, 64); err != nil || *a.dst < 0 {
			return lease{}, bad(a.name, "a whole number from 0")
		}
	}
	for _, a := range []struct {
		name string
		dst  *string
	}{{attrOwner, &l.owner}, {attrCheckpoint, &l.checkpoint}} {
		switch v := item[a.name].(type) {
		case nil:
		case *dtypes.AttributeValueMemberS:
			*a.dst = v.Value
		default:
			return lease{}, bad(a.name, "a string")
		}
	}
	if _, _, _, err := parsePending(l.checkpoint); err != nil {
		return lease{}, fmt.Errorf("lease %s: %w", l.shard, err)
	}
	switch v := item[attrParents].(type) {
	case nil:
	case *dtypes.AttributeValueMemberSS:
		if len(v.Value) > 2 {
			return lease{}, bad(attrParents, "at most two shard ids")
		}
		l.parents = slices.Clone(v.Value)
		slices.Sort(l.parents)
	default:
		return lease{}, bad(attrParents, "a string set")
	}
	return l, nil
}
