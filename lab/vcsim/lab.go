// The lab's front: every SOAP request passes through here before the simulator.
// It counts requests by method (and how many of each were in flight at once), can
// stall a method (to test watchdogs) or answer it late (a vCenter slow to relay), and answers
// QueryNetworkHint with CDP and LLDP neighbours from lab state, which the simulator
// does not know (per vmnic when the call names devices; none for a NIC without link;
// nothing at all, for a host switched to, when the call names none). Everything else goes to govmomi's simulator unchanged.
//
// It must never wrap simulator objects with simulator.Map.Put (that breaks property
// retrieval of the wrapped object) and never change a request on its way through.

package main

import (
	"bytes"
	encxml "encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vim25/xml"
)

const sessionCookie = "vmware_soap_session"

type dvsInfo struct {
	ref  types.ManagedObjectReference
	uuid string
}

type dvpgInfo struct {
	ref    types.ManagedObjectReference
	key    string
	dvs    string
	uplink bool
}

// Lab holds the scenario's names, the neighbours and the request counters.
type Lab struct {
	mu           sync.Mutex // serialises control operations and guards the maps below
	scenario     *Scenario
	client       *vim25.Client
	dataDir      string
	dc           *object.Datacenter
	folders      *object.DatacenterFolders
	clusters     map[string]*object.ClusterComputeResource
	hosts        map[string]types.ManagedObjectReference
	hostClusters map[string]*object.ClusterComputeResource
	networks     map[string]types.ManagedObjectReference
	dvs          map[string]*dvsInfo
	dvpgs        map[string]dvpgInfo
	vms          map[string]types.ManagedObjectReference
	macSeq       int

	nmu       sync.Mutex // guards neighbors and bulkEmpty
	neighbors map[string]map[string]NeighborSpec
	bulkEmpty map[string]bool // hosts whose QueryNetworkHint without devices answers nothing

	cmu      sync.Mutex // guards counts, bytes, stalls, delays, inflight, peaks, sessions
	counts   map[string]int64
	bytes    map[string]int64 // response bytes sent, by method
	changes  int64            // WaitForUpdatesEx answers that carried updates
	stalls   map[string]chan struct{}
	delays   map[string]time.Duration // added to every answer of a method, each on its own
	inflight map[string]int           // requests of a method being answered now
	peaks    map[string]int           // most of a method in flight at once (reset with counts)
	sessions map[string]bool

	sdk http.Handler // the simulator
}

func newLab(s *Scenario, client *vim25.Client, dataDir string) *Lab {
	return &Lab{
		scenario:     s,
		client:       client,
		dataDir:      dataDir,
		clusters:     map[string]*object.ClusterComputeResource{},
		hosts:        map[string]types.ManagedObjectReference{},
		hostClusters: map[string]*object.ClusterComputeResource{},
		networks:     map[string]types.ManagedObjectReference{},
		dvs:          map[string]*dvsInfo{},
		dvpgs:        map[string]dvpgInfo{},
		vms:          map[string]types.ManagedObjectReference{},
		neighbors:    map[string]map[string]NeighborSpec{},
		bulkEmpty:    map[string]bool{},
		counts:       map[string]int64{},
		bytes:        map[string]int64{},
		stalls:       map[string]chan struct{}{},
		delays:       map[string]time.Duration{},
		inflight:     map[string]int{},
		peaks:        map[string]int{},
		sessions:     map[string]bool{},
	}
}

// soapRequest is what the front needs to know about a SOAP call.
type soapRequest struct {
	method  string
	this    string
	devices []string
}

// parseSOAP finds the method (first element in the Body), its _this and any device arguments.
func parseSOAP(body []byte) soapRequest {
	var req soapRequest
	dec := encxml.NewDecoder(bytes.NewReader(body))
	depth, bodyDepth, methodDepth := 0, -1, -1
	field := ""
	var text strings.Builder
	for {
		tok, err := dec.Token()
		if err != nil {
			return req
		}
		switch t := tok.(type) {
		case encxml.StartElement:
			depth++
			switch {
			case bodyDepth < 0 && t.Name.Local == "Body":
				bodyDepth = depth
			case bodyDepth >= 0 && methodDepth < 0 && depth == bodyDepth+1:
				req.method = t.Name.Local
				methodDepth = depth
			case methodDepth >= 0 && depth == methodDepth+1:
				field = t.Name.Local
				text.Reset()
			}
		case encxml.CharData:
			if field != "" {
				text.Write(t)
			}
		case encxml.EndElement:
			if methodDepth >= 0 && depth == methodDepth+1 {
				switch field {
				case "_this":
					req.this = strings.TrimSpace(text.String())
				case "device":
					req.devices = append(req.devices, strings.TrimSpace(text.String()))
				}
				field = ""
			}
			if depth == methodDepth {
				return req
			}
			depth--
		}
	}
}

func (l *Lab) count(what string) {
	l.cmu.Lock()
	l.counts[what]++
	l.cmu.Unlock()
}

func (l *Lab) counters() map[string]int64 {
	l.cmu.Lock()
	defer l.cmu.Unlock()
	out := make(map[string]int64, len(l.counts))
	for k, v := range l.counts {
		out[k] = v
	}
	return out
}

func (l *Lab) resetCounters() {
	l.cmu.Lock()
	l.counts = map[string]int64{}
	l.bytes = map[string]int64{}
	l.changes = 0
	l.peaks = map[string]int{}
	for m, n := range l.inflight {
		l.peaks[m] = n
	}
	l.cmu.Unlock()
}

// sentBytes is the response bytes sent since the last reset, by SOAP method, and how
// many long-poll answers carried updates (an idle one carries none).
func (l *Lab) sentBytes() map[string]interface{} {
	l.cmu.Lock()
	defer l.cmu.Unlock()
	out := make(map[string]int64, len(l.bytes))
	for k, v := range l.bytes {
		out[k] = v
	}
	return map[string]interface{}{"bytes": out, "update_answers": l.changes}
}

// countingWriter counts the body bytes of a response, for sentBytes.
type countingWriter struct {
	http.ResponseWriter
	n       int64
	updates bool // the body names a filterSet: an UpdateSet with changes
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	if !c.updates && bytes.Contains(b, []byte("filterSet>")) {
		c.updates = true
	}
	return n, err
}

// setStall makes requests for method wait (on) until it is cleared (off).
func (l *Lab) setStall(method string, on bool) {
	l.cmu.Lock()
	defer l.cmu.Unlock()
	ch, stalled := l.stalls[method]
	if on && !stalled {
		l.stalls[method] = make(chan struct{})
	}
	if !on && stalled {
		close(ch)
		delete(l.stalls, method)
	}
}

// setDelay makes every answer of method come d later (0: at once), each request
// waiting on its own, as a vCenter relaying calls to hosts' agents answers.
func (l *Lab) setDelay(method string, d time.Duration) {
	l.cmu.Lock()
	defer l.cmu.Unlock()
	if d <= 0 {
		delete(l.delays, method)
		return
	}
	l.delays[method] = d
}

func (l *Lab) waitDelay(r *http.Request, method string) {
	l.cmu.Lock()
	d := l.delays[method]
	l.cmu.Unlock()
	if d <= 0 {
		return
	}
	select {
	case <-time.After(d):
	case <-r.Context().Done():
	}
}

// enter and leave count the requests of a method in flight, and their peak.
func (l *Lab) enter(method string) {
	l.cmu.Lock()
	l.inflight[method]++
	if l.inflight[method] > l.peaks[method] {
		l.peaks[method] = l.inflight[method]
	}
	l.cmu.Unlock()
}

func (l *Lab) leave(method string) {
	l.cmu.Lock()
	l.inflight[method]--
	l.cmu.Unlock()
}

func (l *Lab) peakInFlight() map[string]int {
	l.cmu.Lock()
	defer l.cmu.Unlock()
	out := make(map[string]int, len(l.peaks))
	for k, v := range l.peaks {
		out[k] = v
	}
	return out
}

func (l *Lab) waitStall(r *http.Request, method string) {
	l.cmu.Lock()
	ch := l.stalls[method]
	l.cmu.Unlock()
	if ch == nil {
		return
	}
	select {
	case <-ch:
	case <-r.Context().Done():
	}
}

func (l *Lab) noteSession(r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		l.cmu.Lock()
		l.sessions[c.Value] = true
		l.cmu.Unlock()
	}
}

func (l *Lab) knownSessions() []string {
	l.cmu.Lock()
	defer l.cmu.Unlock()
	out := make([]string, 0, len(l.sessions))
	for id := range l.sessions {
		out = append(out, id)
	}
	sort.Strings(out)
	l.sessions = map[string]bool{}
	return out
}

// ServeHTTP is the front handler of the vCenter endpoint.
func (l *Lab) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/sdk") {
		l.count(r.Method + " " + r.URL.Path)
		l.sdk.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	_ = r.Body.Close()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req := parseSOAP(body)
	if req.method == "" {
		req.method = "(unparsed)"
	}
	l.count(req.method)
	l.enter(req.method)
	defer l.leave(req.method)
	l.noteSession(r)
	l.waitStall(r, req.method)
	l.waitDelay(r, req.method)
	r.Body = io.NopCloser(bytes.NewReader(body))
	cw := &countingWriter{ResponseWriter: w}
	defer func() {
		l.cmu.Lock()
		l.bytes[req.method] += cw.n
		if cw.updates && req.method == "WaitForUpdatesEx" {
			l.changes++
		}
		l.cmu.Unlock()
	}()
	w = cw
	switch req.method {
	case "QueryNetworkHint":
		l.queryNetworkHint(w, r, req)
		return
	case "CreateCollectorForEvents", "DestroyCollector":
		l.collector(w, r, req)
		return
	}
	l.sdk.ServeHTTP(w, r)
}

// collector works around a simulator bug: a property filter that watches a session
// object (an event collector) panics on the collector's first change, because the
// filter looks the object up in the global registry. A placeholder there, of the
// right type, is all it needs; the real collector stays in the session.
func (l *Lab) collector(w http.ResponseWriter, r *http.Request, req soapRequest) {
	rec := httptest.NewRecorder()
	l.sdk.ServeHTTP(rec, r)
	if rec.Code == http.StatusOK {
		switch req.method {
		case "CreateCollectorForEvents":
			if value := returnval(rec.Body.Bytes()); value != "" {
				ph := &mo.EventHistoryCollector{}
				ph.Self = types.ManagedObjectReference{Type: "EventHistoryCollector", Value: value}
				simulator.Map.Put(ph)
			}
		case "DestroyCollector":
			ref := types.ManagedObjectReference{Type: "EventHistoryCollector", Value: req.this}
			if _, ok := simulator.Map.Get(ref).(*mo.EventHistoryCollector); ok {
				simulator.Map.Remove(ref)
			}
		}
	}
	copyResponse(w, rec)
}

// returnval is the text of the first returnval element of a SOAP response.
func returnval(body []byte) string {
	dec := encxml.NewDecoder(bytes.NewReader(body))
	inside := false
	var text strings.Builder
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		switch t := tok.(type) {
		case encxml.StartElement:
			inside = t.Name.Local == "returnval"
		case encxml.CharData:
			if inside {
				text.Write(t)
			}
		case encxml.EndElement:
			if inside {
				return strings.TrimSpace(text.String())
			}
		}
	}
}

func copyResponse(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// queryNetworkHint lets the simulator check the session and the object, then answers
// with the lab's neighbours (or HostNotConnected for a disconnected host).
func (l *Lab) queryNetworkHint(w http.ResponseWriter, r *http.Request, req soapRequest) {
	rec := httptest.NewRecorder()
	l.sdk.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK {
		copyResponse(w, rec)
		return
	}
	name, host := l.hostByNetworkSystem(req.this)
	if host == nil {
		copyResponse(w, rec)
		return
	}
	var state types.HostSystemConnectionState
	var pnics []types.PhysicalNic
	simulator.Map.WithLock(host, func() {
		state = host.Runtime.ConnectionState
		if host.Config != nil && host.Config.Network != nil {
			pnics = append(pnics, host.Config.Network.Pnic...)
		}
	})
	if state != types.HostSystemConnectionStateConnected {
		writeFault(w, "HostNotConnected", fmt.Sprintf("host %s is %s", name, state))
		return
	}
	res := &types.QueryNetworkHintResponse{Returnval: l.hintInfo(name, pnics, req.devices)}
	writeResponse(w, struct {
		Res *types.QueryNetworkHintResponse `xml:"urn:vim25 QueryNetworkHintResponse"`
	}{res})
}

func (l *Lab) hostByNetworkSystem(value string) (string, *simulator.HostSystem) {
	l.mu.Lock()
	hosts := make(map[string]types.ManagedObjectReference, len(l.hosts))
	for n, ref := range l.hosts {
		hosts[n] = ref
	}
	l.mu.Unlock()
	for name, ref := range hosts {
		h, ok := simulator.Map.Get(ref).(*simulator.HostSystem)
		if ok && h.ConfigManager.NetworkSystem != nil && h.ConfigManager.NetworkSystem.Value == value {
			return name, h
		}
	}
	return "", nil
}

func (l *Lab) hintInfo(hostName string, pnics []types.PhysicalNic, devices []string) []types.PhysicalNicHintInfo {
	wanted := map[string]bool{}
	for _, d := range devices {
		wanted[d] = true
	}
	l.nmu.Lock()
	defer l.nmu.Unlock()
	if len(wanted) == 0 && l.bulkEmpty[hostName] {
		return nil
	}
	var out []types.PhysicalNicHintInfo
	for _, pnic := range pnics {
		if len(wanted) > 0 && !wanted[pnic.Device] {
			continue
		}
		info := types.PhysicalNicHintInfo{Device: pnic.Device}
		n := l.neighbors[hostName][pnic.Device]
		if pnic.LinkSpeed == nil {
			n = NeighborSpec{} // no link, no frames: nobody heard
		}
		if c := n.CDP; c != nil {
			ttl := c.TTL
			if ttl == 0 {
				ttl = 180
			}
			info.ConnectedSwitchPort = &types.PhysicalNicCdpInfo{
				CdpVersion:       2,
				Timeout:          0,
				Ttl:              ttl,
				Samples:          1,
				DevId:            c.DeviceID,
				Address:          c.Address,
				PortId:           c.PortID,
				DeviceCapability: &types.PhysicalNicCdpDeviceCapability{Router: true, NetworkSwitch: true},
				SoftwareVersion:  c.Version,
				HardwarePlatform: c.Platform,
				FullDuplex:       types.NewBool(true),
				Mtu:              9214,
				SystemName:       c.SystemName,
				MgmtAddr:         c.Address,
			}
		}
		if d := n.LLDP; d != nil {
			ttl := d.TTL
			if ttl == 0 {
				ttl = 120
			}
			lldp := &types.LinkLayerDiscoveryProtocolInfo{ChassisId: d.ChassisID, PortId: d.PortID, TimeToLive: ttl}
			add := func(key, value string) {
				if value != "" {
					lldp.Parameter = append(lldp.Parameter, types.KeyAnyValue{Key: key, Value: value})
				}
			}
			add("Port Description", d.PortDescription)
			add("System Name", d.SystemName)
			add("Management Address", d.Address)
			info.LldpInfo = lldp
		}
		out = append(out, info)
	}
	return out
}

type soapEnvelope struct {
	XMLName xml.Name    `xml:"soapenv:Envelope"`
	Enc     string      `xml:"xmlns:soapenc,attr"`
	Env     string      `xml:"xmlns:soapenv,attr"`
	XSD     string      `xml:"xmlns:xsd,attr"`
	XSI     string      `xml:"xmlns:xsi,attr"`
	Body    interface{} `xml:"soapenv:Body"`
}

func envelope(body interface{}) soapEnvelope {
	return soapEnvelope{
		Enc:  "http://schemas.xmlsoap.org/soap/encoding/",
		Env:  "http://schemas.xmlsoap.org/soap/envelope/",
		XSD:  "http://www.w3.org/2001/XMLSchema",
		XSI:  "http://www.w3.org/2001/XMLSchema-instance",
		Body: body,
	}
}

func writeResponse(w http.ResponseWriter, body interface{}) {
	var out bytes.Buffer
	out.WriteString(xml.Header)
	if err := xml.NewEncoder(&out).Encode(envelope(body)); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out.Bytes())
}

func writeFault(w http.ResponseWriter, fault, message string) {
	type detail struct {
		Inner string `xml:",innerxml"`
	}
	type soapFault struct {
		XMLName xml.Name `xml:"soapenv:Fault"`
		Code    string   `xml:"faultcode"`
		String  string   `xml:"faultstring"`
		Detail  detail   `xml:"detail"`
	}
	body := struct {
		Fault soapFault
	}{soapFault{
		Code:   "ServerFaultCode",
		String: message,
		Detail: detail{fmt.Sprintf(`<%sFault xmlns="urn:vim25" xsi:type="%s"></%sFault>`, fault, fault, fault)},
	}}
	var out bytes.Buffer
	out.WriteString(xml.Header)
	if err := xml.NewEncoder(&out).Encode(envelope(body)); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = w.Write(out.Bytes())
}
