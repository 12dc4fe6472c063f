package logic

import (
	"fmt"
	"time"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// A date field holds text, YYYY-MM-DD, and compares as text: the day of a timestamp is
// date(now) (UTC) or date(now, 'Europe/Berlin'), so record.due_date < date(now) is "due before
// today". Comparing a date with now itself is a type error, and string(now) is a timestamp's
// text, which no date field can be compared with (a trial's schedule failed every tick on it).

// dateOptions declares date(timestamp) and date(timestamp, zone).
func dateOptions() []cel.EnvOption {
	return []cel.EnvOption{cel.Function("date",
		cel.Overload("kiln_date_timestamp", []*cel.Type{cel.TimestampType}, cel.StringType,
			cel.UnaryBinding(func(t ref.Val) ref.Val { return dayOf(t, time.UTC) })),
		cel.Overload("kiln_date_timestamp_zone", []*cel.Type{cel.TimestampType, cel.StringType}, cel.StringType,
			cel.BinaryBinding(func(t, zone ref.Val) ref.Val {
				loc, err := time.LoadLocation(string(zone.(types.String)))
				if err != nil || zone.(types.String) == "" || zone.(types.String) == "Local" {
					return types.NewErr("date: %q is not a time zone (an IANA name like 'Europe/Berlin')", zone.Value())
				}
				return dayOf(t, loc)
			})))}
}

func dayOf(t ref.Val, loc *time.Location) ref.Val {
	ts, ok := t.(types.Timestamp)
	if !ok {
		return types.NewErr("date: not a timestamp")
	}
	return types.String(ts.Time.In(loc).Format(time.DateOnly))
}

// checkZones refuses a date(t, zone) whose zone is written as text that names no time zone:
// a spec error at its position, not a rule that cannot be computed on every write.
func checkZones(ast *celast.AST) error {
	var err error
	celast.PreOrderVisit(ast.Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		if err != nil || e.Kind() != celast.CallKind || e.AsCall().FunctionName() != "date" || len(e.AsCall().Args()) != 2 {
			return
		}
		arg := e.AsCall().Args()[1]
		if arg.Kind() != celast.LiteralKind {
			return
		}
		zone, ok := arg.AsLiteral().Value().(string)
		if _, lerr := time.LoadLocation(zone); ok && (lerr == nil && zone != "" && zone != "Local") {
			return
		}
		pos := ""
		if loc := ast.SourceInfo().GetStartLocation(arg.ID()); loc.Line() > 0 {
			pos = fmt.Sprintf("at %d:%d: ", loc.Line(), loc.Column()+1)
		}
		err = fmt.Errorf("%sdate: %v is not a time zone (an IANA name like 'Europe/Berlin')", pos, arg.AsLiteral().Value())
	}))
	return err
}
