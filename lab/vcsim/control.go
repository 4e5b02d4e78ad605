// The lab's control interface: JSON over plain HTTP on its own local port, so tests
// and the demo can change what the simulated vCenter reports, the way vCenter itself
// would report it (property changes seen by the property collector, real events).
//
// It must never be reachable from anywhere but the loopback interface, and never
// change state without the property collector hearing about it.

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/vmware/govmomi/event"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(format string, args ...interface{}) error {
	return &apiError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// controlMux serves /lab/... on the control port.
func (l *Lab) controlMux() *http.ServeMux {
	mux := http.NewServeMux()
	handle := func(path string, fn func(ctx context.Context, body json.RawMessage) (interface{}, error)) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			var body json.RawMessage
			if r.Method == http.MethodPost {
				if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
					writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body is not JSON: " + err.Error()})
					return
				}
			}
			out, err := fn(r.Context(), body)
			if err != nil {
				status := http.StatusInternalServerError
				if e, ok := err.(*apiError); ok {
					status = e.status
				}
				writeJSON(w, status, map[string]string{"error": err.Error()})
				return
			}
			if out == nil {
				out = map[string]bool{"ok": true}
			}
			writeJSON(w, http.StatusOK, out)
		})
	}
	handle("/lab/state", func(ctx context.Context, _ json.RawMessage) (interface{}, error) { return l.state(), nil })
	handle("/lab/counters", func(ctx context.Context, _ json.RawMessage) (interface{}, error) { return l.counters(), nil })
	handle("/lab/bytes", func(ctx context.Context, _ json.RawMessage) (interface{}, error) { return l.sentBytes(), nil })
	handle("/lab/counters/reset", func(ctx context.Context, _ json.RawMessage) (interface{}, error) {
		l.resetCounters()
		return nil, nil
	})
	handle("/lab/stall", l.apiStall)
	handle("/lab/delay", l.apiDelay)
	handle("/lab/peaks", func(ctx context.Context, _ json.RawMessage) (interface{}, error) { return l.peakInFlight(), nil })
	handle("/lab/sessions/terminate", l.apiTerminateSessions)
	handle("/lab/neighbors", l.apiNeighbors)
	handle("/lab/vm/power", l.apiPower)
	handle("/lab/vm/nic", l.apiNic)
	handle("/lab/vm/relocate", l.apiRelocate)
	handle("/lab/vm/add", l.apiAddVM)
	handle("/lab/vm/remove", l.apiRemoveVM)
	handle("/lab/portgroup/vlan", l.apiPortgroupVlan)
	handle("/lab/dvportgroup/vlan", l.apiDVPortgroupVlan)
	handle("/lab/host/connection", l.apiHostConnection)
	handle("/lab/host/link", l.apiHostLink)
	handle("/lab/host/bulk-hint", l.apiBulkHint)
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func decode(body json.RawMessage, v interface{}) error {
	if len(body) == 0 {
		return badRequest("POST a JSON object")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return badRequest("bad request: %v", err)
	}
	return nil
}

// -- state ---------------------------------------------------------------------------

type nicState struct {
	Key       int32  `json:"key"`
	Label     string `json:"label"`
	Mac       string `json:"mac"`
	Connected bool   `json:"connected"`
}

type vmState struct {
	Moid      string     `json:"moid"`
	Host      string     `json:"host"`
	HostMoid  string     `json:"host_moid"`
	PoweredOn bool       `json:"powered_on"`
	Nics      []nicState `json:"nics"`
}

type pnicState struct {
	Device string `json:"device"`
	Mac    string `json:"mac"`
}

type hostState struct {
	Moid          string      `json:"moid"`
	NetworkSystem string      `json:"network_system"`
	Connected     bool        `json:"connected"`
	Nics          []pnicState `json:"nics"`
}

func (l *Lab) state() interface{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	hostNames := map[types.ManagedObjectReference]string{}
	hosts := map[string]hostState{}
	for name, ref := range l.hosts {
		hostNames[ref] = name
		h := simulator.Map.Get(ref).(*simulator.HostSystem)
		simulator.Map.WithLock(h, func() {
			st := hostState{
				Moid:          ref.Value,
				NetworkSystem: h.ConfigManager.NetworkSystem.Value,
				Connected:     h.Runtime.ConnectionState == types.HostSystemConnectionStateConnected,
			}
			for _, p := range h.Config.Network.Pnic {
				st.Nics = append(st.Nics, pnicState{Device: p.Device, Mac: p.Mac})
			}
			hosts[name] = st
		})
	}
	vms := map[string]vmState{}
	for name, ref := range l.vms {
		vm, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine)
		if !ok {
			continue
		}
		simulator.Map.WithLock(vm, func() {
			st := vmState{Moid: ref.Value, PoweredOn: vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn}
			if vm.Runtime.Host != nil {
				st.HostMoid = vm.Runtime.Host.Value
				st.Host = hostNames[*vm.Runtime.Host]
			}
			for _, dev := range vm.Config.Hardware.Device {
				card, ok := dev.(types.BaseVirtualEthernetCard)
				if !ok {
					continue
				}
				c := card.GetVirtualEthernetCard()
				n := nicState{Key: c.Key, Mac: c.MacAddress}
				if c.DeviceInfo != nil {
					n.Label = c.DeviceInfo.GetDescription().Label
				}
				if c.Connectable != nil {
					n.Connected = c.Connectable.Connected
				}
				st.Nics = append(st.Nics, n)
			}
			sort.Slice(st.Nics, func(i, j int) bool { return st.Nics[i].Key < st.Nics[j].Key })
			vms[name] = st
		})
	}
	dvs := map[string]interface{}{}
	for name, d := range l.dvs {
		sim := simulator.Map.Get(d.ref).(*simulator.DistributedVirtualSwitch)
		uplink := ""
		if cfg, ok := sim.Config.(*types.VMwareDVSConfigInfo); ok && len(cfg.UplinkPortgroup) > 0 {
			uplink = cfg.UplinkPortgroup[0].Value
		}
		dvs[name] = map[string]string{"moid": d.ref.Value, "uuid": d.uuid, "uplink_portgroup": uplink}
	}
	dvpgs := map[string]interface{}{}
	// (uplink portgroups are listed too, marked "uplink": true)
	for name, pg := range l.dvpgs {
		dvpgs[name] = map[string]interface{}{"key": pg.key, "moid": pg.ref.Value, "dvs": pg.dvs, "uplink": pg.uplink}
	}
	networks := map[string]string{}
	for name, ref := range l.networks {
		networks[name] = ref.Value
	}
	return map[string]interface{}{
		"hosts": hosts, "vms": vms, "dvswitches": dvs, "dvportgroups": dvpgs, "networks": networks,
	}
}

// -- helpers ---------------------------------------------------------------------------

func (l *Lab) hostRef(name string) (types.ManagedObjectReference, *simulator.HostSystem, error) {
	ref, ok := l.hosts[name]
	if !ok {
		return ref, nil, badRequest("unknown host %q", name)
	}
	return ref, simulator.Map.Get(ref).(*simulator.HostSystem), nil
}

func (l *Lab) vmRef(name string) (types.ManagedObjectReference, *simulator.VirtualMachine, error) {
	ref, ok := l.vms[name]
	if !ok {
		return ref, nil, badRequest("unknown VM %q", name)
	}
	vm, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine)
	if !ok {
		return ref, nil, badRequest("VM %q no longer exists", name)
	}
	return ref, vm, nil
}

func (l *Lab) hostName(ref types.ManagedObjectReference) string {
	for name, r := range l.hosts {
		if r == ref {
			return name
		}
	}
	return ref.Value
}

func (l *Lab) post(ctx context.Context, events ...types.BaseEvent) error {
	m := event.NewManager(l.client)
	for _, e := range events {
		if err := m.PostEvent(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

func (l *Lab) eventBase(vm *simulator.VirtualMachine, host types.ManagedObjectReference) types.Event {
	e := types.Event{
		Datacenter: &types.DatacenterEventArgument{
			Datacenter:          l.dc.Reference(),
			EntityEventArgument: types.EntityEventArgument{Name: l.dc.Name()},
		},
		Host: &types.HostEventArgument{
			Host:                host,
			EntityEventArgument: types.EntityEventArgument{Name: l.hostName(host)},
		},
	}
	if c, ok := l.hostClusters[l.hostName(host)]; ok {
		e.ComputeResource = &types.ComputeResourceEventArgument{
			ComputeResource:     c.Reference(),
			EntityEventArgument: types.EntityEventArgument{Name: c.Name()},
		}
	}
	if vm != nil {
		e.Vm = &types.VmEventArgument{Vm: vm.Self, EntityEventArgument: types.EntityEventArgument{Name: vm.Name}}
	}
	return e
}

// touchVM re-announces a new VM's properties, in case the property collector picked it up
// half built (the simulator fills some fields without telling the collector).
func touchVM(vm *simulator.VirtualMachine) {
	simulator.Map.WithLock(vm, func() {
		changes := []types.PropertyChange{
			{Name: "name", Val: vm.Name},
			{Name: "runtime.powerState", Val: vm.Runtime.PowerState},
			{Name: "config.hardware.device", Val: []types.BaseVirtualDevice(vm.Config.Hardware.Device)},
		}
		if vm.Runtime.Host != nil {
			host := *vm.Runtime.Host
			changes = append(changes, types.PropertyChange{Name: "runtime.host", Val: &host})
		}
		simulator.Map.Update(vm, changes)
	})
}

// -- handlers --------------------------------------------------------------------------

func (l *Lab) apiStall(_ context.Context, body json.RawMessage) (interface{}, error) {
	var req struct {
		Method string `json:"method"`
		On     bool   `json:"on"`
	}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if req.Method == "" {
		return nil, badRequest("name the SOAP method to stall")
	}
	l.setStall(req.Method, req.On)
	return nil, nil
}

func (l *Lab) apiDelay(_ context.Context, body json.RawMessage) (interface{}, error) {
	var req struct {
		Method  string  `json:"method"`
		Seconds float64 `json:"seconds"`
	}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if req.Method == "" {
		return nil, badRequest("name the SOAP method to delay")
	}
	if req.Seconds < 0 || req.Seconds > 60 {
		return nil, badRequest("a delay is 0 to 60 seconds")
	}
	l.setDelay(req.Method, time.Duration(req.Seconds*float64(time.Second)))
	return nil, nil
}

func (l *Lab) apiTerminateSessions(ctx context.Context, _ json.RawMessage) (interface{}, error) {
	m := session.NewManager(l.client)
	n := 0
	for _, id := range l.knownSessions() {
		if err := m.TerminateSession(ctx, []string{id}); err == nil {
			n++
		}
	}
	return map[string]int{"terminated": n}, nil
}

func (l *Lab) apiNeighbors(_ context.Context, body json.RawMessage) (interface{}, error) {
	var req struct {
		Host  string    `json:"host"`
		Vmnic string    `json:"vmnic"`
		CDP   *CDPSpec  `json:"cdp"`
		LLDP  *LLDPSpec `json:"lldp"`
	}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	l.mu.Lock()
	_, _, err := l.hostRef(req.Host)
	l.mu.Unlock()
	if err != nil {
		return nil, err
	}
	l.nmu.Lock()
	defer l.nmu.Unlock()
	if req.CDP == nil && req.LLDP == nil {
		delete(l.neighbors[req.Host], req.Vmnic)
	} else {
		l.neighbors[req.Host][req.Vmnic] = NeighborSpec{CDP: req.CDP, LLDP: req.LLDP}
	}
	return nil, nil
}

func (l *Lab) apiPower(ctx context.Context, body json.RawMessage) (interface{}, error) {
	var req struct {
		VM string `json:"vm"`
		On bool   `json:"on"`
	}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	ref, vm, err := l.vmRef(req.VM)
	if err != nil {
		return nil, err
	}
	want := types.VirtualMachinePowerStatePoweredOff
	if req.On {
		want = types.VirtualMachinePowerStatePoweredOn
	}
	var state types.VirtualMachinePowerState
	simulator.Map.WithLock(vm, func() { state = vm.Runtime.PowerState })
	if state == want {
		return map[string]bool{"ok": true, "changed": false}, nil
	}
	v := object.NewVirtualMachine(l.client, ref)
	var task *object.Task
	if req.On {
		task, err = v.PowerOn(ctx)
	} else {
		task, err = v.PowerOff(ctx)
	}
	if err != nil {
		return nil, err
	}
	if err := task.Wait(ctx); err != nil {
		return nil, err
	}
	return map[string]bool{"ok": true, "changed": true}, nil
}

func (l *Lab) apiNic(ctx context.Context, body json.RawMessage) (interface{}, error) {
	var req struct {
		VM  string `json:"vm"`
		Nic int    `json:"nic"`
		VMNicSpec
	}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	ref, vm, err := l.vmRef(req.VM)
	if err != nil {
		return nil, err
	}
	var cards []types.BaseVirtualDevice
	simulator.Map.WithLock(vm, func() {
		for _, dev := range vm.Config.Hardware.Device {
			if _, ok := dev.(types.BaseVirtualEthernetCard); ok {
				cards = append(cards, dev)
			}
		}
	})
	sort.Slice(cards, func(i, j int) bool { return cards[i].GetVirtualDevice().Key < cards[j].GetVirtualDevice().Key })
	if req.Nic < 0 || req.Nic >= len(cards) {
		return nil, badRequest("VM %s has %d vNICs, no index %d", req.VM, len(cards), req.Nic)
	}
	dup := copyDevice(cards[req.Nic])
	card := dup.(types.BaseVirtualEthernetCard).GetVirtualEthernetCard()
	backing := card.Backing
	if req.Portgroup != "" || req.DVPortgroup != "" || req.Opaque != "" {
		backing, err = l.nicBacking(req.VMNicSpec)
		if err != nil {
			return nil, badRequest("%v", err)
		}
	}
	card.Backing = backing
	if req.Connected != nil {
		card.Connectable = connectInfo(req.Connected)
	} else if card.Connectable != nil {
		c := *card.Connectable
		card.Connectable = &c
	}
	spec := types.VirtualMachineConfigSpec{DeviceChange: []types.BaseVirtualDeviceConfigSpec{
		&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationEdit, Device: dup},
	}}
	task, err := object.NewVirtualMachine(l.client, ref).Reconfigure(ctx, spec)
	if err != nil {
		return nil, err
	}
	if err := task.Wait(ctx); err != nil {
		return nil, err
	}
	return nil, nil
}

func (l *Lab) apiRelocate(ctx context.Context, body json.RawMessage) (interface{}, error) {
	var req struct {
		VM       string  `json:"vm"`
		Host     string  `json:"host"`
		Duration float64 `json:"duration"`
		Fail     bool    `json:"fail"`
		Wait     bool    `json:"wait"`
	}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	l.mu.Lock()
	_, vm, err := l.vmRef(req.VM)
	if err != nil {
		l.mu.Unlock()
		return nil, err
	}
	dest, destHost, err := l.hostRef(req.Host)
	if err != nil {
		l.mu.Unlock()
		return nil, err
	}
	var src types.ManagedObjectReference
	var powered bool
	simulator.Map.WithLock(vm, func() {
		src = *vm.Runtime.Host
		powered = vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn
	})
	if src == dest {
		l.mu.Unlock()
		return nil, badRequest("VM %s is on %s already", req.VM, req.Host)
	}
	srcHost := simulator.Map.Get(src).(*simulator.HostSystem)
	start := l.eventBase(vm, src)
	arg := *l.eventBase(nil, dest).Host
	dc := start.Datacenter
	l.mu.Unlock()

	var begin types.BaseEvent
	if powered {
		begin = &types.VmBeingHotMigratedEvent{VmEvent: types.VmEvent{Event: start}, DestHost: arg, DestDatacenter: dc}
	} else {
		begin = &types.VmBeingMigratedEvent{VmEvent: types.VmEvent{Event: start}, DestHost: arg, DestDatacenter: dc}
	}
	if err := l.post(ctx, begin); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("relocation failed: %v", r)
			}
		}()
		bg := context.Background()
		time.Sleep(time.Duration(req.Duration * float64(time.Second)))
		if req.Fail {
			done <- l.post(bg, &types.VmFailedMigrateEvent{
				VmEvent:  types.VmEvent{Event: start},
				DestHost: arg,
				Reason: types.LocalizedMethodFault{
					Fault:            &types.MigrationFault{},
					LocalizedMessage: "the lab failed this migration",
				},
			})
			return
		}
		simulator.Map.WithLock(vm, func() {
			simulator.Map.Update(vm, []types.PropertyChange{
				{Name: "runtime.host", Val: &dest},
				{Name: "summary.runtime.host", Val: &dest},
			})
		})
		simulator.Map.WithLock(srcHost, func() {
			var left []types.ManagedObjectReference
			for _, r := range srcHost.Vm {
				if r != vm.Self {
					left = append(left, r)
				}
			}
			simulator.Map.Update(srcHost, []types.PropertyChange{{Name: "vm", Val: left}})
		})
		simulator.Map.WithLock(destHost, func() {
			simulator.Map.Update(destHost, []types.PropertyChange{{Name: "vm", Val: appendRef(append([]types.ManagedObjectReference{}, destHost.Vm...), vm.Self)}})
		})
		l.mu.Lock()
		end := l.eventBase(vm, dest)
		srcArg := *l.eventBase(nil, src).Host
		l.mu.Unlock()
		done <- l.post(bg, &types.VmMigratedEvent{VmEvent: types.VmEvent{Event: end}, SourceHost: srcArg, SourceDatacenter: dc})
	}()
	if req.Wait {
		if err := <-done; err != nil {
			return nil, err
		}
		return map[string]bool{"ok": true, "done": true}, nil
	}
	return map[string]bool{"ok": true, "done": false}, nil
}

func (l *Lab) apiAddVM(ctx context.Context, body json.RawMessage) (interface{}, error) {
	var req VMSpec
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	ref, err := l.addVM(ctx, req)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	if vm, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine); ok {
		touchVM(vm)
	}
	return map[string]string{"moid": ref.Value}, nil
}

func (l *Lab) apiRemoveVM(ctx context.Context, body json.RawMessage) (interface{}, error) {
	var req struct {
		VM string `json:"vm"`
	}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	ref, vm, err := l.vmRef(req.VM)
	if err != nil {
		return nil, err
	}
	v := object.NewVirtualMachine(l.client, ref)
	var state types.VirtualMachinePowerState
	simulator.Map.WithLock(vm, func() { state = vm.Runtime.PowerState })
	if state == types.VirtualMachinePowerStatePoweredOn {
		task, err := v.PowerOff(ctx)
		if err != nil {
			return nil, err
		}
		if err := task.Wait(ctx); err != nil {
			return nil, err
		}
	}
	task, err := v.Destroy(ctx)
	if err != nil {
		return nil, err
	}
	if err := task.Wait(ctx); err != nil {
		return nil, err
	}
	delete(l.vms, req.VM)
	return nil, nil
}

func (l *Lab) apiPortgroupVlan(_ context.Context, body json.RawMessage) (interface{}, error) {
	var req struct {
		Portgroup string   `json:"portgroup"`
		Vlan      int32    `json:"vlan"`
		Hosts     []string `json:"hosts"`
	}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	names := req.Hosts
	if len(names) == 0 {
		for name := range l.hosts {
			names = append(names, name)
		}
	}
	changed := 0
	for _, name := range names {
		_, host, err := l.hostRef(name)
		if err != nil {
			return nil, err
		}
		simulator.Map.WithLock(host, func() {
			net := host.Config.Network
			pgs := append([]types.HostPortGroup{}, net.Portgroup...)
			hit := false
			for i := range pgs {
				if pgs[i].Spec.Name == req.Portgroup {
					pgs[i].Spec.VlanId = req.Vlan
					hit = true
				}
			}
			if hit {
				simulator.Map.Update(host, []types.PropertyChange{{Name: "config.network.portgroup", Val: pgs}})
				changed++
			}
		})
	}
	if changed == 0 {
		return nil, badRequest("no host has a portgroup %q", req.Portgroup)
	}
	return map[string]int{"hosts": changed}, nil
}

func (l *Lab) apiDVPortgroupVlan(_ context.Context, body json.RawMessage) (interface{}, error) {
	var req struct {
		DVPortgroup string `json:"dvportgroup"`
		VlanSetting
	}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	info, ok := l.dvpgs[req.DVPortgroup]
	if !ok {
		return nil, badRequest("unknown distributed portgroup %q", req.DVPortgroup)
	}
	vlan, err := dvVlan(req.VlanSetting)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	pg := simulator.Map.Get(info.ref).(*simulator.DistributedVirtualPortgroup)
	simulator.Map.WithLock(pg, func() {
		simulator.Map.Update(pg, []types.PropertyChange{{Name: "config.defaultPortConfig", Val: portSetting(vlan)}})
	})
	return nil, nil
}

func (l *Lab) apiHostConnection(ctx context.Context, body json.RawMessage) (interface{}, error) {
	var req struct {
		Host      string `json:"host"`
		Connected bool   `json:"connected"`
	}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	l.mu.Lock()
	ref, host, err := l.hostRef(req.Host)
	if err != nil {
		l.mu.Unlock()
		return nil, err
	}
	base := l.eventBase(nil, ref)
	l.mu.Unlock()
	state := types.HostSystemConnectionStateDisconnected
	vmState := types.VirtualMachineConnectionStateDisconnected
	var ev types.BaseEvent = &types.HostDisconnectedEvent{HostEvent: types.HostEvent{Event: base}, Reason: "userRequest"}
	if req.Connected {
		state = types.HostSystemConnectionStateConnected
		vmState = types.VirtualMachineConnectionStateConnected
		ev = &types.HostConnectedEvent{HostEvent: types.HostEvent{Event: base}}
	}
	var vms []types.ManagedObjectReference
	simulator.Map.WithLock(host, func() {
		simulator.Map.Update(host, []types.PropertyChange{
			{Name: "runtime.connectionState", Val: state},
			{Name: "summary.runtime.connectionState", Val: state},
		})
		vms = append(vms, host.Vm...)
	})
	for _, r := range vms {
		if vm, ok := simulator.Map.Get(r).(*simulator.VirtualMachine); ok {
			simulator.Map.WithLock(vm, func() {
				simulator.Map.Update(vm, []types.PropertyChange{
					{Name: "runtime.connectionState", Val: vmState},
					{Name: "summary.runtime.connectionState", Val: vmState},
				})
			})
		}
	}
	return nil, l.post(ctx, ev)
}

// apiHostLink takes a host's physical NIC's link down or up, as ESXi reports it:
// config.network.pnic[].linkSpeed unset while the link is down (the property
// collector reports the whole config.network.pnic as changed). A NIC without link
// hears no neighbour (QueryNetworkHint names none for it).
func (l *Lab) apiHostLink(_ context.Context, body json.RawMessage) (interface{}, error) {
	var req struct {
		Host  string `json:"host"`
		Vmnic string `json:"vmnic"`
		Up    bool   `json:"up"`
	}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	l.mu.Lock()
	_, host, err := l.hostRef(req.Host)
	l.mu.Unlock()
	if err != nil {
		return nil, err
	}
	found := false
	simulator.Map.WithLock(host, func() {
		if host.Config == nil || host.Config.Network == nil {
			return
		}
		pnics := append([]types.PhysicalNic(nil), host.Config.Network.Pnic...)
		for i := range pnics {
			if pnics[i].Device != req.Vmnic {
				continue
			}
			found = true
			if req.Up {
				pnics[i].LinkSpeed = &types.PhysicalNicLinkInfo{SpeedMb: 10000, Duplex: true}
			} else {
				pnics[i].LinkSpeed = nil
			}
		}
		if found {
			simulator.Map.Update(host, []types.PropertyChange{{Name: "config.network.pnic", Val: pnics}})
		}
	})
	if !found {
		return nil, badRequest("host %s has no physical NIC %q", req.Host, req.Vmnic)
	}
	return nil, nil
}

// apiBulkHint makes a host answer QueryNetworkHint without a device argument with an
// empty list (as some ESXi 6.x/7.x builds are reported to); asked per vmnic, it answers.
func (l *Lab) apiBulkHint(_ context.Context, body json.RawMessage) (interface{}, error) {
	var req struct {
		Host  string `json:"host"`
		Empty bool   `json:"empty"`
	}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	l.mu.Lock()
	_, _, err := l.hostRef(req.Host)
	l.mu.Unlock()
	if err != nil {
		return nil, err
	}
	l.nmu.Lock()
	defer l.nmu.Unlock()
	if req.Empty {
		l.bulkEmpty[req.Host] = true
	} else {
		delete(l.bulkEmpty, req.Host)
	}
	return nil, nil
}
