// The lab scenario: a JSON description of hosts, switches, portgroups and VMs,
// and the code that builds it inside govmomi's simulator.
//
// It must never depend on anything outside Debian's golang-github-vmware-govmomi-dev
// and the Go standard library (the lab builds offline).

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"text/template"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// Scenario is the JSON document a test or the demo writes.
type Scenario struct {
	Username   string     `json:"username"`
	Password   string     `json:"password"`
	Hosts      []HostSpec `json:"hosts"`
	DVSwitches []DVSSpec  `json:"dvswitches"`
	VMs        []VMSpec   `json:"vms"`
}

// HostSpec is one ESXi host.
type HostSpec struct {
	Name      string                  `json:"name"`
	Cluster   string                  `json:"cluster"`
	Nics      []PnicSpec              `json:"nics"`
	VSwitches []VSwitchSpec           `json:"vswitches"`
	Proxy     []ProxySpec             `json:"dvs"`
	VmkNics   []VmkSpec               `json:"vmknics"`
	Neighbors map[string]NeighborSpec `json:"neighbors"`
	Connected *bool                   `json:"connected"`
}

// PnicSpec is a physical NIC (vmnic).
type PnicSpec struct {
	Device string `json:"device"`
	Mac    string `json:"mac"`
}

// VSwitchSpec is a standard vSwitch with its uplinks and portgroups.
type VSwitchSpec struct {
	Name       string          `json:"name"`
	Uplinks    []string        `json:"uplinks"`
	Portgroups []PortgroupSpec `json:"portgroups"`
}

// PortgroupSpec is a standard portgroup. Active/Standby set a teaming override.
type PortgroupSpec struct {
	Name    string   `json:"name"`
	Vlan    int32    `json:"vlan"`
	Active  []string `json:"active"`
	Standby []string `json:"standby"`
}

// ProxySpec makes the host a member of a distributed switch with these uplinks.
type ProxySpec struct {
	DVS     string   `json:"dvs"`
	Uplinks []string `json:"uplinks"`
}

// VmkSpec is a VMkernel adapter on a standard or a distributed portgroup.
type VmkSpec struct {
	Device      string `json:"device"`
	Portgroup   string `json:"portgroup"`
	DVPortgroup string `json:"dvportgroup"`
	IP          string `json:"ip"`
}

// NeighborSpec is what a vmnic hears (CDP and/or LLDP).
type NeighborSpec struct {
	CDP  *CDPSpec  `json:"cdp"`
	LLDP *LLDPSpec `json:"lldp"`
}

// CDPSpec is a CDP neighbour as ESXi reports it in connectedSwitchPort.
type CDPSpec struct {
	DeviceID   string `json:"device_id"`
	PortID     string `json:"port_id"`
	Address    string `json:"address"`
	Platform   string `json:"platform"`
	Version    string `json:"version"`
	SystemName string `json:"system_name"`
	TTL        int32  `json:"ttl"`
}

// LLDPSpec is an LLDP neighbour as ESXi reports it in lldpInfo.
type LLDPSpec struct {
	ChassisID       string `json:"chassis_id"`
	PortID          string `json:"port_id"`
	SystemName      string `json:"system_name"`
	Address         string `json:"address"`
	PortDescription string `json:"port_description"`
	TTL             int32  `json:"ttl"`
}

// DVSSpec is a distributed switch.
type DVSSpec struct {
	Name       string      `json:"name"`
	Pvlans     []PvlanSpec `json:"pvlans"`
	Portgroups []DVPGSpec  `json:"portgroups"`
}

// PvlanSpec is one entry of the switch's private-VLAN map.
type PvlanSpec struct {
	Primary   int32  `json:"primary"`
	Secondary int32  `json:"secondary"`
	Type      string `json:"type"`
}

// VlanSetting is a distributed portgroup's VLAN: exactly one of the fields.
type VlanSetting struct {
	Vlan  *int32     `json:"vlan"`
	Trunk [][2]int32 `json:"trunk"`
	Pvlan *int32     `json:"pvlan"`
}

// DVPGSpec is a distributed portgroup.
type DVPGSpec struct {
	Name string `json:"name"`
	VlanSetting
}

// VMSpec is a virtual machine.
type VMSpec struct {
	Name  string      `json:"name"`
	Host  string      `json:"host"`
	Power string      `json:"power"`
	Nics  []VMNicSpec `json:"nics"`
}

// VMNicSpec is a vNIC; exactly one of Portgroup, DVPortgroup, Opaque.
type VMNicSpec struct {
	Portgroup   string `json:"portgroup"`
	DVPortgroup string `json:"dvportgroup"`
	Opaque      string `json:"opaque"`
	Connected   *bool  `json:"connected"`
	Mac         string `json:"mac"`
	Label       string `json:"label"` // default "Network adapter N"
}

func loadScenario(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s Scenario
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if s.Username == "" {
		s.Username = "user"
	}
	if s.Password == "" {
		s.Password = "pass"
	}
	return &s, nil
}

func pnicKey(device string) string    { return "key-vim.host.PhysicalNic-" + device }
func vswitchKey(name string) string   { return "key-vim.host.VirtualSwitch-" + name }
func portgroupKey(name string) string { return "key-vim.host.PortGroup-" + name }

// hostNetwork builds a host's config.network from its spec.
func (l *Lab) hostNetwork(h *HostSpec, index int) (*types.HostNetworkInfo, error) {
	info := &types.HostNetworkInfo{}
	devices := map[string]bool{}
	for i, nic := range h.Nics {
		mac := nic.Mac
		if mac == "" {
			mac = fmt.Sprintf("00:50:56:%02x:%02x:%02x", 0x10+index/256, index%256, i)
		}
		devices[nic.Device] = true
		info.Pnic = append(info.Pnic, types.PhysicalNic{
			Key:       pnicKey(nic.Device),
			Device:    nic.Device,
			Pci:       fmt.Sprintf("0000:%02x:00.%d", 3+i/2, i%2),
			Driver:    "ixgben",
			Mac:       mac,
			LinkSpeed: &types.PhysicalNicLinkInfo{SpeedMb: 10000, Duplex: true},
		})
	}
	check := func(what string, names []string) error {
		for _, n := range names {
			if !devices[n] {
				return fmt.Errorf("host %s: %s names %s, which is not one of its nics", h.Name, what, n)
			}
		}
		return nil
	}
	for _, vs := range h.VSwitches {
		if err := check("vSwitch "+vs.Name, vs.Uplinks); err != nil {
			return nil, err
		}
		sw := types.HostVirtualSwitch{
			Name:              vs.Name,
			Key:               vswitchKey(vs.Name),
			NumPorts:          128,
			NumPortsAvailable: 120,
			Mtu:               1500,
			Spec: types.HostVirtualSwitchSpec{
				NumPorts: 128,
				Policy: &types.HostNetworkPolicy{NicTeaming: &types.HostNicTeamingPolicy{
					Policy:   "loadbalance_srcid",
					NicOrder: &types.HostNicOrderPolicy{ActiveNic: vs.Uplinks},
				}},
			},
		}
		if len(vs.Uplinks) > 0 {
			sw.Spec.Bridge = &types.HostVirtualSwitchBondBridge{NicDevice: vs.Uplinks}
		}
		for _, u := range vs.Uplinks {
			sw.Pnic = append(sw.Pnic, pnicKey(u))
		}
		for _, pg := range vs.Portgroups {
			if err := check("portgroup "+pg.Name, append(append([]string{}, pg.Active...), pg.Standby...)); err != nil {
				return nil, err
			}
			sw.Portgroup = append(sw.Portgroup, portgroupKey(pg.Name))
			info.Portgroup = append(info.Portgroup, makePortgroup(vs, pg))
		}
		info.Vswitch = append(info.Vswitch, sw)
	}
	for _, p := range h.Proxy {
		if err := check("dvs "+p.DVS, p.Uplinks); err != nil {
			return nil, err
		}
		d, ok := l.dvs[p.DVS]
		if !ok {
			return nil, fmt.Errorf("host %s: unknown distributed switch %q", h.Name, p.DVS)
		}
		proxy := types.HostProxySwitch{
			DvsUuid:           d.uuid,
			DvsName:           p.DVS,
			Key:               d.uuid,
			NumPorts:          512,
			NumPortsAvailable: 500,
			Mtu:               1500,
		}
		backing := &types.DistributedVirtualSwitchHostMemberPnicBacking{}
		for i, u := range p.Uplinks {
			proxy.Pnic = append(proxy.Pnic, pnicKey(u))
			port := fmt.Sprintf("%d", 100*(index+1)+i)
			proxy.UplinkPort = append(proxy.UplinkPort, types.KeyValue{Key: port, Value: fmt.Sprintf("uplink%d", i+1)})
			backing.PnicSpec = append(backing.PnicSpec, types.DistributedVirtualSwitchHostMemberPnicSpec{
				PnicDevice:    u,
				UplinkPortKey: port,
			})
		}
		proxy.Spec.Backing = backing
		info.ProxySwitch = append(info.ProxySwitch, proxy)
	}
	for i, v := range h.VmkNics {
		nic := types.HostVirtualNic{
			Device: v.Device,
			Key:    "key-vim.host.VirtualNic-" + v.Device,
		}
		ip := v.IP
		if ip == "" {
			ip = fmt.Sprintf("10.%d.%d.%d", 10+i, index/250, 10+index%250)
		}
		nic.Spec.Ip = &types.HostIpConfig{IpAddress: ip, SubnetMask: "255.255.255.0"}
		nic.Spec.Mac = fmt.Sprintf("00:50:56:%02x:%02x:%02x", 0x60+index/256, index%256, i)
		nic.Spec.Mtu = 1500
		switch {
		case v.Portgroup != "" && v.DVPortgroup == "":
			nic.Portgroup = v.Portgroup
			nic.Spec.Portgroup = v.Portgroup
		case v.DVPortgroup != "" && v.Portgroup == "":
			pg, ok := l.dvpgs[v.DVPortgroup]
			if !ok {
				return nil, fmt.Errorf("host %s: %s: unknown distributed portgroup %q", h.Name, v.Device, v.DVPortgroup)
			}
			nic.Spec.DistributedVirtualPort = &types.DistributedVirtualSwitchPortConnection{
				SwitchUuid:   l.dvs[pg.dvs].uuid,
				PortgroupKey: pg.key,
				PortKey:      fmt.Sprintf("%d", 1000+10*index+i),
			}
		default:
			return nil, fmt.Errorf("host %s: %s needs exactly one of portgroup, dvportgroup", h.Name, v.Device)
		}
		info.Vnic = append(info.Vnic, nic)
	}
	return info, nil
}

func makePortgroup(vs VSwitchSpec, pg PortgroupSpec) types.HostPortGroup {
	spec := types.HostPortGroupSpec{
		Name:        pg.Name,
		VlanId:      pg.Vlan,
		VswitchName: vs.Name,
		Policy:      types.HostNetworkPolicy{NicTeaming: &types.HostNicTeamingPolicy{}},
	}
	computed := types.HostNicOrderPolicy{ActiveNic: vs.Uplinks}
	if pg.Active != nil || pg.Standby != nil {
		order := &types.HostNicOrderPolicy{ActiveNic: pg.Active, StandbyNic: pg.Standby}
		spec.Policy.NicTeaming.NicOrder = order
		computed = *order
	}
	return types.HostPortGroup{
		Key:     portgroupKey(pg.Name),
		Vswitch: vswitchKey(vs.Name),
		Spec:    spec,
		ComputedPolicy: types.HostNetworkPolicy{NicTeaming: &types.HostNicTeamingPolicy{
			Policy:   "loadbalance_srcid",
			NicOrder: &computed,
		}},
	}
}

// dvVlan turns a VlanSetting into the simulator's VLAN spec.
func dvVlan(v VlanSetting) (types.BaseVmwareDistributedVirtualSwitchVlanSpec, error) {
	set := 0
	if v.Vlan != nil {
		set++
	}
	if v.Trunk != nil {
		set++
	}
	if v.Pvlan != nil {
		set++
	}
	if set != 1 {
		return nil, fmt.Errorf("give exactly one of vlan, trunk, pvlan")
	}
	switch {
	case v.Vlan != nil:
		return &types.VmwareDistributedVirtualSwitchVlanIdSpec{VlanId: *v.Vlan}, nil
	case v.Pvlan != nil:
		return &types.VmwareDistributedVirtualSwitchPvlanSpec{PvlanId: *v.Pvlan}, nil
	}
	spec := &types.VmwareDistributedVirtualSwitchTrunkVlanSpec{}
	for _, r := range v.Trunk {
		spec.VlanId = append(spec.VlanId, types.NumericRange{Start: r[0], End: r[1]})
	}
	return spec, nil
}

func portSetting(v types.BaseVmwareDistributedVirtualSwitchVlanSpec) *types.VMwareDVSPortSetting {
	return &types.VMwareDVSPortSetting{
		Vlan: v,
		UplinkTeamingPolicy: &types.VmwareUplinkPortTeamingPolicy{
			Policy: &types.StringPolicy{Value: "loadbalance_srcid"},
		},
	}
}

// build creates the scenario in the simulator. It runs before the server accepts clients.
func (l *Lab) build(ctx context.Context) error {
	s := l.scenario
	finder := find.NewFinder(l.client, false)
	dc, err := finder.DefaultDatacenter(ctx)
	if err != nil {
		return err
	}
	l.dc = dc
	folders, err := dc.Folders(ctx)
	if err != nil {
		return err
	}
	l.folders = folders

	fixEventTemplates()

	// Distributed switches and their portgroups first: hosts and VMs refer to them.
	for _, d := range s.DVSwitches {
		if err := l.addDVS(ctx, d); err != nil {
			return err
		}
	}

	// Hosts, in clusters.
	for i := range s.Hosts {
		if err := l.addHost(ctx, &s.Hosts[i], i); err != nil {
			return err
		}
	}
	if err := l.mountDatastore(ctx); err != nil {
		return err
	}

	for _, v := range s.VMs {
		if _, err := l.addVM(ctx, v); err != nil {
			return err
		}
	}
	return nil
}

func (l *Lab) addDVS(ctx context.Context, d DVSSpec) error {
	ref, sim, err := l.createDVS(ctx, d.Name)
	if err != nil {
		return err
	}
	for _, pref := range sim.Portgroup {
		pg := simulator.Map.Get(pref).(*simulator.DistributedVirtualPortgroup)
		l.dvpgs[pg.Name] = dvpgInfo{ref: pref, key: pg.Key, dvs: d.Name, uplink: true}
	}
	cfg := sim.Config.(*types.VMwareDVSConfigInfo)
	for _, p := range d.Pvlans {
		kind := p.Type
		if kind == "" {
			if p.Primary == p.Secondary {
				kind = "promiscuous"
			} else {
				kind = "isolated"
			}
		}
		cfg.PvlanConfig = append(cfg.PvlanConfig, types.VMwareDVSPvlanMapEntry{
			PrimaryVlanId: p.Primary, SecondaryVlanId: p.Secondary, PvlanType: kind,
		})
	}
	l.dvs[d.Name] = &dvsInfo{ref: ref, uuid: sim.Uuid}
	dvs := object.NewDistributedVirtualSwitch(l.client, ref)
	for _, pg := range d.Portgroups {
		vlan, err := dvVlan(pg.VlanSetting)
		if err != nil {
			return fmt.Errorf("dvportgroup %s: %w", pg.Name, err)
		}
		task, err := dvs.AddPortgroup(ctx, []types.DVPortgroupConfigSpec{{
			Name: pg.Name, Type: "earlyBinding", NumPorts: 16, DefaultPortConfig: portSetting(vlan),
		}})
		if err != nil {
			return err
		}
		if err := task.Wait(ctx); err != nil {
			return fmt.Errorf("dvportgroup %s: %w", pg.Name, err)
		}
		obj := simulator.Map.FindByName(pg.Name, simulator.Map.Get(l.folders.NetworkFolder.Reference()).(*simulator.Folder).ChildEntity)
		if obj == nil {
			return fmt.Errorf("dvportgroup %s: not found after creation", pg.Name)
		}
		sp := obj.(*simulator.DistributedVirtualPortgroup)
		l.dvpgs[pg.Name] = dvpgInfo{ref: sp.Self, key: sp.Key, dvs: d.Name}
	}
	return nil
}

// createDVS makes a distributed switch with the simulator's CreateDVS_Task and marks
// its uplink portgroup the way vCenter does (config.uplinkPortgroup, the UPLINKPG tag).
func (l *Lab) createDVS(ctx context.Context, name string) (types.ManagedObjectReference, *simulator.DistributedVirtualSwitch, error) {
	var none types.ManagedObjectReference
	spec := types.DVSCreateSpec{ConfigSpec: &types.VMwareDVSConfigSpec{DVSConfigSpec: types.DVSConfigSpec{Name: name}}}
	task, err := l.folders.NetworkFolder.CreateDVS(ctx, spec)
	if err != nil {
		return none, nil, err
	}
	info, err := task.WaitForResult(ctx, nil)
	if err != nil {
		return none, nil, fmt.Errorf("dvs %s: %w", name, err)
	}
	ref := info.Result.(types.ManagedObjectReference)
	dvs := simulator.Map.Get(ref).(*simulator.DistributedVirtualSwitch)
	cfg := dvs.Config.(*types.VMwareDVSConfigInfo)
	cfg.MaxMtu = 9000
	for _, pref := range dvs.Portgroup {
		pg := simulator.Map.Get(pref).(*simulator.DistributedVirtualPortgroup)
		pg.Tag = append(pg.Tag, types.Tag{Key: "SYSTEM/DVS.UPLINKPG"})
		cfg.UplinkPortgroup = append(cfg.UplinkPortgroup, pref)
	}
	return ref, dvs, nil
}

func (l *Lab) cluster(ctx context.Context, name string) (*object.ClusterComputeResource, error) {
	if name == "" {
		name = "Cluster1"
	}
	if c, ok := l.clusters[name]; ok {
		return c, nil
	}
	c, err := l.folders.HostFolder.CreateCluster(ctx, name, types.ClusterConfigSpecEx{})
	if err != nil {
		return nil, err
	}
	l.clusters[name] = c
	return c, nil
}

func (l *Lab) addHost(ctx context.Context, h *HostSpec, index int) error {
	if h.Name == "" {
		return fmt.Errorf("host %d has no name", index)
	}
	if _, dup := l.hosts[h.Name]; dup {
		return fmt.Errorf("host %s is listed twice", h.Name)
	}
	info, err := l.hostNetwork(h, index)
	if err != nil {
		return err
	}
	cluster, err := l.cluster(ctx, h.Cluster)
	if err != nil {
		return err
	}
	task, err := cluster.AddHost(ctx, types.HostConnectSpec{HostName: h.Name}, true, nil, nil)
	if err != nil {
		return err
	}
	res, err := task.WaitForResult(ctx, nil)
	if err != nil {
		return fmt.Errorf("host %s: %w", h.Name, err)
	}
	ref := res.Result.(types.ManagedObjectReference)
	l.hosts[h.Name] = ref
	l.hostClusters[h.Name] = cluster

	// Standard portgroups are Network entities in the datacenter: create each name once.
	ns, err := object.NewHostSystem(l.client, ref).ConfigManager().NetworkSystem(ctx)
	if err != nil {
		return err
	}
	simNS := simulator.Map.Get(ns.Reference()).(*simulator.HostNetworkSystem)
	simNS.NetworkInfo.Vswitch = nil
	for _, sw := range info.Vswitch {
		simNS.NetworkInfo.Vswitch = append(simNS.NetworkInfo.Vswitch, types.HostVirtualSwitch{Name: sw.Name})
	}
	for _, vs := range h.VSwitches {
		for _, pg := range vs.Portgroups {
			if _, ok := l.networks[pg.Name]; ok {
				continue
			}
			if err := ns.AddPortGroup(ctx, types.HostPortGroupSpec{Name: pg.Name, VswitchName: vs.Name, VlanId: pg.Vlan}); err != nil {
				return fmt.Errorf("portgroup %s: %w", pg.Name, err)
			}
			netFolder := simulator.Map.Get(l.folders.NetworkFolder.Reference()).(*simulator.Folder)
			obj := simulator.Map.FindByName(pg.Name, netFolder.ChildEntity)
			if obj == nil {
				return fmt.Errorf("portgroup %s: network not found after creation", pg.Name)
			}
			l.networks[pg.Name] = obj.Reference()
		}
	}

	// Distributed switch membership.
	for _, p := range h.Proxy {
		dvs := object.NewDistributedVirtualSwitch(l.client, l.dvs[p.DVS].ref)
		task, err := dvs.Reconfigure(ctx, &types.DVSConfigSpec{Host: []types.DistributedVirtualSwitchHostMemberConfigSpec{{
			Operation: string(types.ConfigSpecOperationAdd),
			Host:      ref,
		}}})
		if err != nil {
			return err
		}
		if err := task.Wait(ctx); err != nil {
			return fmt.Errorf("host %s joining %s: %w", h.Name, p.DVS, err)
		}
	}

	// The host's own view of its network, as config.network and networkInfo.
	simHost := simulator.Map.Get(ref).(*simulator.HostSystem)
	simHost.Config.Network = info
	simNS.NetworkInfo = info
	nets := append([]types.ManagedObjectReference{}, simHost.Network...)
	for _, vs := range h.VSwitches {
		for _, pg := range vs.Portgroups {
			nets = appendRef(nets, l.networks[pg.Name])
			net := simulator.Map.Get(l.networks[pg.Name]).(*mo.Network)
			net.Host = appendRef(net.Host, ref)
		}
	}
	simHost.Network = nets
	if h.Connected != nil && !*h.Connected {
		simHost.Runtime.ConnectionState = types.HostSystemConnectionStateDisconnected
	}
	l.neighbors[h.Name] = map[string]NeighborSpec{}
	for dev, n := range h.Neighbors {
		l.neighbors[h.Name][dev] = n
	}
	return nil
}

func appendRef(refs []types.ManagedObjectReference, ref types.ManagedObjectReference) []types.ManagedObjectReference {
	for _, r := range refs {
		if r == ref {
			return refs
		}
	}
	return append(refs, ref)
}

func (l *Lab) mountDatastore(ctx context.Context) error {
	dir, err := os.MkdirTemp(l.dataDir, "datastore-")
	if err != nil {
		return err
	}
	for _, ref := range l.hosts {
		dss, err := object.NewHostSystem(l.client, ref).ConfigManager().DatastoreSystem(ctx)
		if err != nil {
			return err
		}
		if _, err := dss.CreateLocalDatastore(ctx, "LocalDS_0", dir); err != nil {
			return err
		}
	}
	return nil
}

// nicBacking is a vNIC's backing for a portgroup, distributed portgroup or opaque network.
func (l *Lab) nicBacking(n VMNicSpec) (types.BaseVirtualDeviceBackingInfo, error) {
	set := 0
	for _, s := range []string{n.Portgroup, n.DVPortgroup, n.Opaque} {
		if s != "" {
			set++
		}
	}
	if set != 1 {
		return nil, fmt.Errorf("a vNIC needs exactly one of portgroup, dvportgroup, opaque")
	}
	switch {
	case n.Portgroup != "":
		net, ok := l.networks[n.Portgroup]
		if !ok {
			return nil, fmt.Errorf("unknown portgroup %q", n.Portgroup)
		}
		b := &types.VirtualEthernetCardNetworkBackingInfo{Network: &net}
		b.DeviceName = n.Portgroup
		return b, nil
	case n.DVPortgroup != "":
		pg, ok := l.dvpgs[n.DVPortgroup]
		if !ok {
			return nil, fmt.Errorf("unknown distributed portgroup %q", n.DVPortgroup)
		}
		return &types.VirtualEthernetCardDistributedVirtualPortBackingInfo{
			Port: types.DistributedVirtualSwitchPortConnection{
				SwitchUuid:   l.dvs[pg.dvs].uuid,
				PortgroupKey: pg.key,
			},
		}, nil
	}
	return &types.VirtualEthernetCardOpaqueNetworkBackingInfo{
		OpaqueNetworkId:   n.Opaque,
		OpaqueNetworkType: "nsx.LogicalSwitch",
	}, nil
}

func connectInfo(connected *bool) *types.VirtualDeviceConnectInfo {
	on := connected == nil || *connected
	return &types.VirtualDeviceConnectInfo{StartConnected: on, Connected: on, AllowGuestControl: true}
}

// addVM creates a VM on its host with its vNICs, and powers it on unless told otherwise.
func (l *Lab) addVM(ctx context.Context, v VMSpec) (types.ManagedObjectReference, error) {
	var none types.ManagedObjectReference
	if v.Name == "" {
		return none, fmt.Errorf("a VM needs a name")
	}
	if _, dup := l.vms[v.Name]; dup {
		return none, fmt.Errorf("VM %s exists already", v.Name)
	}
	hostRef, ok := l.hosts[v.Host]
	if !ok {
		return none, fmt.Errorf("VM %s: unknown host %q", v.Name, v.Host)
	}
	var devices object.VirtualDeviceList
	for i, n := range v.Nics {
		backing, err := l.nicBacking(n)
		if err != nil {
			return none, fmt.Errorf("VM %s nic %d: %w", v.Name, i, err)
		}
		dev, err := devices.CreateEthernetCard("vmxnet3", backing)
		if err != nil {
			return none, err
		}
		card := dev.(types.BaseVirtualEthernetCard).GetVirtualEthernetCard()
		card.Key = int32(4000 + i)
		label := n.Label
		if label == "" {
			label = fmt.Sprintf("Network adapter %d", i+1)
		}
		card.DeviceInfo = &types.Description{Label: label, Summary: "lab"}
		card.Connectable = connectInfo(n.Connected)
		card.AddressType = string(types.VirtualEthernetCardMacTypeManual)
		card.MacAddress = n.Mac
		if card.MacAddress == "" {
			l.macSeq++
			card.MacAddress = fmt.Sprintf("00:50:56:a0:%02x:%02x", l.macSeq/256, l.macSeq%256)
		}
		devices = append(devices, dev)
	}
	config := types.VirtualMachineConfigSpec{
		Name:    v.Name,
		GuestId: string(types.VirtualMachineGuestOsIdentifierOtherGuest),
		Files:   &types.VirtualMachineFileInfo{VmPathName: "[LocalDS_0]"},
	}
	var err error
	config.DeviceChange, err = devices.ConfigSpec(types.VirtualDeviceConfigSpecOperationAdd)
	if err != nil {
		return none, err
	}
	pool, err := l.hostClusters[v.Host].ResourcePool(ctx)
	if err != nil {
		return none, err
	}
	task, err := l.folders.VmFolder.CreateVM(ctx, config, pool, object.NewHostSystem(l.client, hostRef))
	if err != nil {
		return none, err
	}
	info, err := task.WaitForResult(ctx, nil)
	if err != nil {
		return none, fmt.Errorf("VM %s: %w", v.Name, err)
	}
	ref := info.Result.(types.ManagedObjectReference)
	l.vms[v.Name] = ref
	if v.Power == "" || v.Power == "on" {
		task, err := object.NewVirtualMachine(l.client, ref).PowerOn(ctx)
		if err != nil {
			return none, err
		}
		if err := task.Wait(ctx); err != nil {
			return none, fmt.Errorf("VM %s power on: %w", v.Name, err)
		}
	} else if v.Power != "off" {
		return none, fmt.Errorf("VM %s: power must be on or off, not %q", v.Name, v.Power)
	}
	return ref, nil
}

// fixEventTemplates replaces event message templates the simulator cannot parse
// (govmomi 0.24's VmMigratedEvent has a typo that panics when the event is posted).
func fixEventTemplates() {
	m := simulator.Map.EventManager()
	for i := range m.Description.EventInfo {
		info := &m.Description.EventInfo[i]
		if _, err := template.New(info.Key).Parse(info.FullFormat); err != nil {
			info.FullFormat = info.Description
		}
	}
}

// copyDevice returns a shallow copy of a device, so an edit does not touch the live one.
func copyDevice(dev types.BaseVirtualDevice) types.BaseVirtualDevice {
	val := reflect.ValueOf(dev).Elem()
	dup := reflect.New(val.Type())
	dup.Elem().Set(val)
	return dup.Interface().(types.BaseVirtualDevice)
}
