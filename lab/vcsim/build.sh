#!/usr/bin/env bash
# Build the lab vCenter (govmomi's simulator + the lab's extensions) into OUTPUT.
#
# Offline, from Debian's packages only: golang-go and golang-github-vmware-govmomi-dev
# (GOPATH mode against /usr/share/gocode), plus patch for one fix to the simulator. Go's caches go under build/ (or $TMPDIR when
# the tree is read-only; VCSIM_GOCACHE overrides), never into the source tree.
# Fails loudly on anything missing.
set -euo pipefail

usage() { echo "usage: $0 OUTPUT" >&2; exit 2; }
[ $# -eq 1 ] || usage
out=$1

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
gopath=${VCSIM_GOPATH:-/usr/share/gocode}

die() { echo "build.sh: $*" >&2; exit 1; }
command -v go >/dev/null 2>&1 || die "no 'go' on PATH: install golang-go (make apt)"
[ -d "$gopath/src/github.com/vmware/govmomi/simulator" ] \
  || die "govmomi sources not found under $gopath: install golang-github-vmware-govmomi-dev (make apt)"

case $out in /*) ;; *) out=$PWD/$out ;; esac
mkdir -p "$(dirname "$out")"

cache=${VCSIM_GOCACHE:-$root/build/go-cache}
if ! mkdir -p "$cache" 2>/dev/null || [ ! -w "$cache" ]; then
  cache=${TMPDIR:-/tmp}/eos-vmtracer-go-cache-$(id -u)
  mkdir -p "$cache"
fi

export GO111MODULE=off GOPATH=$gopath GOCACHE=$cache GOFLAGS= GOENV=off CGO_ENABLED=0
export GOTMPDIR=$cache

# Two fixes to govmomi's simulator, applied to a copy through a build overlay (the
# Debian sources stay untouched), both in WaitForUpdatesEx:
# - it re-collected every object of a property filter once per queued update, so N
#   changes in one 250 ms batch cost N full collects of the inventory (a 1,000-VM
#   power-on storm took minutes to reach a client); once per batch gives the same set;
# - it ignored maxObjectUpdates and sent the whole initial update in one response
#   (20,000 VMs: one response that takes ~30 s to parse, held in memory whole, and
#   longer than a client's watchdog on a slow machine); vCenter truncates it.
command -v patch >/dev/null 2>&1 || die "no 'patch' on PATH: install patch (make apt)"
pc_src=$gopath/src/github.com/vmware/govmomi/simulator/property_collector.go
overlay=$cache/vcsim-overlay
mkdir -p "$overlay"
cp "$pc_src" "$overlay/property_collector.go"
patch --quiet --forward --no-backup-if-mismatch "$overlay/property_collector.go" <<'PATCH' \
  || die "the simulator patch does not apply to $pc_src (another govmomi version?)"
--- a/simulator/property_collector.go
+++ b/simulator/property_collector.go
@@ -42,6 +42,7 @@
 	updates []types.ObjectUpdate
 	mu      sync.Mutex
 	cancel  context.CancelFunc
+	pending []types.PropertyFilterUpdate // eos-vmtracer lab: the rest of a truncated update
 }
 
 func NewPropertyCollector(ref types.ManagedObjectReference) object.Reference {
@@ -666,8 +667,36 @@
 		return true
 	}
 
+	// eos-vmtracer lab: honour WaitOptions.maxObjectUpdates for the initial update, as
+	// vCenter does (a truncated set, the rest on the next calls), instead of returning
+	// every object in one response. Later updates still come in one set per batch.
+	max := 0
+	if r.Options != nil && r.Options.MaxObjectUpdates > 0 {
+		max = int(r.Options.MaxObjectUpdates)
+	}
+	pc.mu.Lock()
+	pending := pc.pending
+	pc.mu.Unlock()
+	if r.Version != "" && len(pending) > 0 {
+		set.FilterSet, pending = truncateUpdates(pending, max)
+		pc.mu.Lock()
+		pc.pending = pending
+		pc.mu.Unlock()
+		set.Truncated = types.NewBool(len(pending) > 0)
+		set.Version = "-"
+		return body
+	}
+
 	if r.Version == "" {
-		apply()                // Collect current state
+		apply() // Collect current state
+		if max > 0 && body.Res != nil {
+			var rest []types.PropertyFilterUpdate
+			set.FilterSet, rest = truncateUpdates(set.FilterSet, max)
+			pc.mu.Lock()
+			pc.pending = rest
+			pc.mu.Unlock()
+			set.Truncated = types.NewBool(len(rest) > 0)
+		}
 		set.Version = "-"      // Next request with Version set will wait via loop below
 		ctx.Map.AddHandler(pc) // Listen for create, update, delete of managed objects
 		return body
@@ -708,6 +737,11 @@
 
 			log.Printf("%s: applying %d updates to %d filters", pc.Self, len(updates), len(pc.Filter))
 
+			// eos-vmtracer lab: collect the filters' objects once per batch of updates,
+			// not once per update. Every collect sees the same (current) inventory, so
+			// the result is the same; per update, a storm of N changes cost N full
+			// collects of the whole inventory.
+			collected := false
 			for _, f := range pc.Filter {
 				filter := ctx.Session.Get(f).(*PropertyFilter)
 				fu := types.PropertyFilterUpdate{Filter: f}
@@ -715,13 +749,19 @@
 				for _, update := range updates {
 					switch update.Kind {
 					case types.ObjectUpdateKindEnter: // Create
-						if !apply() {
-							return body
+						if !collected {
+							if !apply() {
+								return body
+							}
+							collected = true
 						}
 					case types.ObjectUpdateKindModify: // Update
 						log.Printf("%s has %d changes", update.Obj, len(update.ChangeSet))
-						if !apply() { // An update may apply to collector traversal specs
-							return body
+						if !collected { // An update may apply to collector traversal specs
+							if !apply() {
+								return body
+							}
+							collected = true
 						}
 						if _, ok := filter.refs[update.Obj]; ok {
 							// This object has already been applied by the filter,
@@ -755,6 +795,31 @@
 	}
 }
 
+// truncateUpdates splits filter updates after max object updates (0: no limit).
+// eos-vmtracer lab.
+func truncateUpdates(fus []types.PropertyFilterUpdate, max int) ([]types.PropertyFilterUpdate, []types.PropertyFilterUpdate) {
+	if max <= 0 {
+		return fus, nil
+	}
+	var head, rest []types.PropertyFilterUpdate
+	n := 0
+	for _, fu := range fus {
+		switch {
+		case n >= max:
+			rest = append(rest, fu)
+		case n+len(fu.ObjectSet) <= max:
+			head = append(head, fu)
+			n += len(fu.ObjectSet)
+		default:
+			k := max - n
+			head = append(head, types.PropertyFilterUpdate{Filter: fu.Filter, ObjectSet: fu.ObjectSet[:k], MissingSet: fu.MissingSet})
+			rest = append(rest, types.PropertyFilterUpdate{Filter: fu.Filter, ObjectSet: fu.ObjectSet[k:]})
+			n = max
+		}
+	}
+	return head, rest
+}
+
 // WaitForUpdates is deprecated, but pyvmomi is still using it at the moment.
 func (pc *PropertyCollector) WaitForUpdates(ctx *Context, r *types.WaitForUpdates) soap.HasFault {
 	body := &methods.WaitForUpdatesBody{}
PATCH
# A third fix, in the property collector's collect of a filter's objects: an object
# that the filter's traversal no longer reaches (a host taken out of a ListView, a VM
# that moved to a host outside it) leaves the filter, as on vCenter; the simulator
# only reported objects that were deleted.
patch --quiet --forward --no-backup-if-mismatch "$overlay/property_collector.go" <<'PATCH' \
  || die "the simulator's leave patch does not apply to $pc_src (another govmomi version?)"
--- a/simulator/property_collector.go
+++ b/simulator/property_collector.go
@@ -603,7 +603,9 @@
 			Filter: ref,
 		}
 
+		found := make(map[types.ManagedObjectReference]bool, len(res.Objects)) // eos-vmtracer lab
 		for _, o := range res.Objects {
+			found[o.Obj] = true
 			if _, ok := filter.refs[o.Obj]; ok {
 				continue
 			}
@@ -624,6 +626,17 @@
 			fu.ObjectSet = append(fu.ObjectSet, ou)
 		}
 
+		// eos-vmtracer lab: objects the filter's traversal no longer reaches leave it.
+		for obj := range filter.refs {
+			if !found[obj] {
+				delete(filter.refs, obj)
+				fu.ObjectSet = append(fu.ObjectSet, types.ObjectUpdate{
+					Obj:  obj,
+					Kind: types.ObjectUpdateKindLeave,
+				})
+			}
+		}
+
 		if len(fu.ObjectSet) != 0 {
 			update.FilterSet = append(update.FilterSet, fu)
 		}
PATCH
# A fifth, in WaitForUpdatesEx again: the changes of one object in a batch are
# reported as one object update, each property with its last value, as vCenter
# reports them. The simulator sent one object update per change, so an event
# collector's latestPage (100 events) came once per event posted: under churn a
# client parsed a hundred times the events there were, and held them (a soak agent's
# heap grew by the hundred megabytes).
patch --quiet --forward --no-backup-if-mismatch "$overlay/property_collector.go" <<'PATCH' \
  || die "the simulator's coalescing patch does not apply to $pc_src (another govmomi version?)"
--- a/simulator/property_collector.go
+++ b/simulator/property_collector.go
@@ -794,6 +794,7 @@
 				}
 
 				if len(fu.ObjectSet) != 0 {
+					fu.ObjectSet = coalesceModifies(fu.ObjectSet)
 					set.FilterSet = append(set.FilterSet, fu)
 				}
 			}
@@ -808,6 +809,42 @@
 	}
 }
 
+// coalesceModifies merges the modify updates of one object into the first of them,
+// each property with its last value, as vCenter reports an object once per update
+// set. eos-vmtracer lab: the simulator sent one update per change, so an event
+// collector's latestPage came once per event posted, each time the whole page.
+func coalesceModifies(ous []types.ObjectUpdate) []types.ObjectUpdate {
+	first := make(map[types.ManagedObjectReference]int, len(ous))
+	var out []types.ObjectUpdate
+	for _, ou := range ous {
+		if ou.Kind != types.ObjectUpdateKindModify {
+			out = append(out, ou)
+			continue
+		}
+		i, seen := first[ou.Obj]
+		if !seen {
+			first[ou.Obj] = len(out)
+			ou.ChangeSet = append([]types.PropertyChange(nil), ou.ChangeSet...)
+			out = append(out, ou)
+			continue
+		}
+		for _, c := range ou.ChangeSet {
+			replaced := false
+			for j := range out[i].ChangeSet {
+				if out[i].ChangeSet[j].Name == c.Name {
+					out[i].ChangeSet[j] = c
+					replaced = true
+				}
+			}
+			if !replaced {
+				out[i].ChangeSet = append(out[i].ChangeSet, c)
+			}
+		}
+		out[i].MissingSet = append(out[i].MissingSet, ou.MissingSet...)
+	}
+	return out
+}
+
 // truncateUpdates splits filter updates after max object updates (0: no limit).
 // eos-vmtracer lab.
 func truncateUpdates(fus []types.PropertyFilterUpdate, max int) ([]types.PropertyFilterUpdate, []types.PropertyFilterUpdate) {
PATCH
# A fourth, in the registry: every session's property collector has the singleton's
# reference, and update handlers were kept by reference, so only the last session to
# wait got updates (a second client silently starved the first). Keyed per instance,
# and dropped per instance: when a collector is destroyed (every handler of its
# reference) and when its session logs out (that session's own), or else each gone
# collector would queue every later change forever (a 20,000-VM lab build, whose
# tasks each wait through a collector of their own, grew past 18 GB).
sim=$gopath/src/github.com/vmware/govmomi/simulator
reg_src=$sim/registry.go
sm_src=$sim/session_manager.go
cp "$reg_src" "$overlay/registry.go"
cp "$sm_src" "$overlay/session_manager.go"
patch --quiet --forward --no-backup-if-mismatch "$overlay/registry.go" <<'PATCH' \
  || die "the simulator's handler patch does not apply to $reg_src (another govmomi version?)"
--- a/simulator/registry.go
+++ b/simulator/registry.go
@@ -141,17 +141,25 @@
 // AddHandler adds a RegisterObject handler to the Registry.
 func (r *Registry) AddHandler(h RegisterObject) {
 	r.m.Lock()
-	r.handlers[h.Reference()] = h
+	r.handlers[handlerKey(h)] = h
 	r.m.Unlock()
 }
 
 // RemoveHandler removes a RegisterObject handler from the Registry.
 func (r *Registry) RemoveHandler(h RegisterObject) {
 	r.m.Lock()
-	delete(r.handlers, h.Reference())
+	delete(r.handlers, handlerKey(h))
 	r.m.Unlock()
 }
 
+// handlerKey tells apart handlers that share a reference (each session's property
+// collector has the singleton's). eos-vmtracer lab.
+func handlerKey(h RegisterObject) types.ManagedObjectReference {
+	ref := h.Reference()
+	ref.Value = fmt.Sprintf("%s@%p", ref.Value, h)
+	return ref
+}
+
 // NewEntity sets Entity().Self with a new, unique Value.
 // Useful for creating object instances from templates.
 func (r *Registry) NewEntity(item mo.Entity) mo.Entity {
@@ -266,7 +274,11 @@
 
 	r.m.Lock()
 	delete(r.objects, item)
-	delete(r.handlers, item)
+	for key, h := range r.handlers { // keyed per instance (handlerKey): every one of item
+		if h.Reference() == item {
+			delete(r.handlers, key)
+		}
+	}
 	delete(r.locks, item)
 	r.m.Unlock()
 }
PATCH
patch --quiet --forward --no-backup-if-mismatch "$overlay/session_manager.go" <<'PATCH' \
  || die "the simulator's logout patch does not apply to $sm_src (another govmomi version?)"
--- a/simulator/session_manager.go
+++ b/simulator/session_manager.go
@@ -184,6 +184,9 @@
 
 	for ref, obj := range ctx.Session.Registry.objects {
 		if ref == pc {
+			if h, ok := obj.(RegisterObject); ok { // this session's collector: it stops
+				ctx.Map.RemoveHandler(h) // listening (eos-vmtracer lab)
+			}
 			continue // don't unregister the PropertyCollector singleton
 		}
 		if _, ok := obj.(RegisterObject); ok {
PATCH
printf '{"Replace": {"%s": "%s", "%s": "%s", "%s": "%s"}}\n' \
  "$pc_src" "$overlay/property_collector.go" "$reg_src" "$overlay/registry.go" \
  "$sm_src" "$overlay/session_manager.go" >"$overlay/overlay.json"

tmp=$(mktemp "$out.XXXXXX")
trap 'rm -f "$tmp"' EXIT
start=$(date +%s%N)
(cd "$here" && go build -overlay "$overlay/overlay.json" -o "$tmp" .) || die "go build failed (see above)"
chmod 0755 "$tmp"
mv -f "$tmp" "$out"
trap - EXIT
ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "build.sh: built $out in $((ms / 1000)).$(( (ms % 1000) / 100 ))s" >&2
