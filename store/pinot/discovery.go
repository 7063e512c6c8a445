package pinot

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// brokerInstance is one entry of GET /v2/brokers/tables (BrokerV2Response in apache/pinot's
// PinotBrokerRestletResource: instanceName, host, port).
type brokerInstance struct {
	Host         string `json:"host"`
	Port         int    `json:"port"`
	InstanceName string `json:"instanceName"`
}

// discoveryTimeout bounds one discovery call.
const discoveryTimeout = 10 * time.Second

// discover replaces the broker set with the controller's table → online brokers mapping.
// Brokers are reached with the controller's URL scheme.
func (s *Store) discover(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, min(s.cfg.DiscoveryInterval, discoveryTimeout))
	defer cancel()
	set, err := s.fetchBrokers(ctx)
	if err != nil {
		err = fmt.Errorf("discover pinot brokers from %s: %w", s.cfg.Controller, err)
		s.discErr.Store(&err)
		return err
	}
	s.discErr.Store(nil)
	s.brokers.Store(set)
	return nil
}

func (s *Store) fetchBrokers(ctx context.Context) (*brokerSet, error) {
	raw, status, err := s.get(ctx, "/v2/brokers/tables?state=ONLINE")
	if err != nil {
		return nil, err
	}
	if status != 200 {
		return nil, fmt.Errorf("HTTP %d: %s", status, clip(string(raw)))
	}
	var m map[string][]brokerInstance
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	cu, err := url.Parse(s.cfg.Controller)
	if err != nil {
		return nil, err
	}
	set := &brokerSet{byTable: make(map[string][]string, len(m))}
	seen := map[string]bool{}
	for table, list := range m {
		for _, b := range list {
			if b.Host == "" || b.Port <= 0 || b.Port > 65535 {
				continue
			}
			u := cu.Scheme + "://" + net.JoinHostPort(b.Host, strconv.Itoa(b.Port))
			set.byTable[table] = append(set.byTable[table], u)
			if !seen[u] {
				seen[u] = true
				set.all = append(set.all, u)
			}
		}
		slices.Sort(set.byTable[table])
	}
	if len(set.all) == 0 {
		return nil, fmt.Errorf("the controller lists no online broker")
	}
	slices.Sort(set.all)
	return set, nil
}

// discoverLoop refreshes the brokers every DiscoveryInterval, and at once when a broker says
// it does not serve a table, until Close. A failed refresh keeps the last brokers.
func (s *Store) discoverLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.DiscoveryInterval)
	defer t.Stop()
	for {
		select {
		case <-s.base.Done():
			return
		case <-t.C:
		case <-s.rediscover:
		}
		_ = s.discover(s.base) // recorded for DiscoveryError
	}
}

// kickDiscovery asks discoverLoop for a refresh without waiting for it.
func (s *Store) kickDiscovery() {
	if s.cfg.Controller == "" {
		return
	}
	select {
	case s.rediscover <- struct{}{}:
	default:
	}
}
