package columns

import (
	"slices"
	"strings"
)

// Reserved words, lower case, per dialect. A table or column whose
// snake_cased name is one of these gets a "_" prefix (see Namer). The lists
// name every word the warehouse will not take as an unquoted table or column
// name; we quote every name anyway, so a longer list only costs an
// underscore.
const (
	// postgresReserved: pg_get_keywords() categories R (reserved) and T
	// (reserved, can be function or type) of PostgreSQL 15, plus
	// system_user, reserved since 16.
	postgresReserved = `all analyse analyze and any array as asc asymmetric
		authorization binary both case cast check collate collation column
		concurrently constraint create cross current_catalog current_date
		current_role current_schema current_time current_timestamp
		current_user default deferrable desc distinct do else end except false
		fetch for foreign freeze from full grant group having ilike in
		initially inner intersect into is isnull join lateral leading left
		like limit localtime localtimestamp natural not notnull null offset on
		only or order outer overlaps placing primary references returning
		right select session_user similar some symmetric system_user table
		tablesample then to trailing true union unique user using variadic
		verbose when where window with`

	// duckdbReserved: duckdb_keywords() categories reserved and
	// type_function of DuckDB 1.5.
	duckdbReserved = `all analyse analyze and anti any array as asc asof
		asymmetric at authorization binary both by case cast check collate
		collation column columns concurrently constraint create cross default
		deferrable desc describe distinct do else end except false fetch for
		foreign freeze from full generated glob group having ilike in
		initially inner intersect into is isnull join lambda lateral leading
		left like limit map natural not notnull null offset on only or order
		outer overlaps pivot pivot_longer pivot_wider placing positional
		primary qualify references returning right select semi show similar
		some struct summarize symmetric table tablesample then to trailing
		true try_cast union unique unpack unpivot using variadic verbose when
		where window with`

	// snowflakeReserved: Snowflake's "Reserved & limited keywords" table
	// (docs.snowflake.com/en/sql-reference/reserved-keywords). Snowflake
	// rejects the ANSI-reserved ones as column names.
	snowflakeReserved = `account all alter and any as between by case cast
		check column connect connection constraint create cross current
		current_date current_time current_timestamp current_user database
		delete distinct drop else exists false following for from full grant
		group gscluster having ilike in increment inner insert intersect into
		is issue join lateral left like localtime localtimestamp minus natural
		not null of on or order organization qualify regexp revoke right rlike
		row rows sample schema select set some start table tablesample then to
		trigger true try_cast union unique update using values view when
		whenever where with`

	// redshiftReserved: Amazon Redshift's reserved words
	// (docs.aws.amazon.com/redshift/latest/dg/r_pg_keywords.html).
	redshiftReserved = `aes128 aes256 all allowoverwrite analyse analyze and
		any array as asc authorization az64 backup between binary blanksasnull
		both bytedict bzip2 case cast check collate column constraint create
		credentials cross current_date current_time current_timestamp
		current_user current_user_id default deferrable deflate defrag delta
		delta32k desc disable distinct do else emptyasnull enable encode
		encrypt encryption end except explicit false for foreign freeze from
		full globaldict256 globaldict64k grant group gzip having identity
		ignore ilike in initially inner intersect interval into is isnull join
		language leading left like limit localtime localtimestamp lun luns lzo
		lzop minus mostly16 mostly32 mostly8 natural new not notnull null
		nulls off offline offset oid old on only open or order outer overlaps
		parallel partition percent permissions pivot placing primary raw
		readratio recover references rejectlog resort respect restore right
		select session_user similar snapshot some sysdate system table tag
		tdes text255 text32k then timestamp to top trailing true
		truncatecolumns union unique unnest unpivot user using verbose wallet
		when where with without`

	// bigqueryReserved: GoogleSQL's reserved keywords
	// (cloud.google.com/bigquery/docs/reference/standard-sql/lexical).
	bigqueryReserved = `all and any array as asc assert_rows_modified at
		between by case cast collate contains create cross cube current
		default define desc distinct else end enum escape except exclude
		exists extract false fetch following for from full group grouping
		groups hash having if ignore in inner intersect interval into is join
		lateral left like limit lookup merge natural new no not null nulls of
		on or order outer over partition preceding proto qualify range
		recursive respect right rollup rows select set some struct
		tablesample then to treat true unbounded union unnest using when
		where window with within`

	// synapseReserved: Transact-SQL reserved keywords, which Azure Synapse
	// Analytics shares, plus its own LABEL
	// (learn.microsoft.com/sql/t-sql/language-elements/reserved-keywords-transact-sql).
	synapseReserved = `add all alter and any as asc authorization backup
		begin between break browse bulk by cascade case check checkpoint close
		clustered coalesce collate column commit compute constraint contains
		containstable continue convert create cross current current_date
		current_time current_timestamp current_user cursor database dbcc
		deallocate declare default delete deny desc disk distinct distributed
		double drop dump else end errlvl escape except exec execute exists
		exit external fetch file fillfactor for foreign freetext
		freetexttable from full function goto grant group having holdlock
		identity identity_insert identitycol if in index inner insert
		intersect into is join key kill label left like lineno load merge
		national nocheck nonclustered not null nullif of off offsets on open
		opendatasource openquery openrowset openxml option or order outer
		over percent pivot plan precision primary print proc procedure public
		raiserror read readtext reconfigure references replication restore
		restrict return revert revoke right rollback rowcount rowguidcol rule
		save schema securityaudit select semantickeyphrasetable
		semanticsimilaritydetailstable semanticsimilaritytable session_user
		set setuser shutdown some statistics system_user table tablesample
		textsize then to top tran transaction trigger truncate try_convert
		tsequal union unique unpivot update updatetext use user values
		varying view waitfor when where while with within writetext`
)

// ReservedWords returns the reserved words of a dialect ("postgres",
// "duckdb", "snowflake", "redshift", "bigquery", "synapse"), lower case and
// sorted. For any other name it returns the union of all of them, so that a
// new warehouse starts out safe.
func ReservedWords(dialect string) []string {
	var words []string
	switch dialect {
	case "postgres":
		words = strings.Fields(postgresReserved)
	case "duckdb":
		words = strings.Fields(duckdbReserved)
	case "snowflake":
		words = strings.Fields(snowflakeReserved)
	case "redshift":
		words = strings.Fields(redshiftReserved)
	case "bigquery":
		words = strings.Fields(bigqueryReserved)
	case "synapse":
		words = strings.Fields(synapseReserved)
	default:
		for _, list := range []string{postgresReserved, duckdbReserved, snowflakeReserved,
			redshiftReserved, bigqueryReserved, synapseReserved} {
			words = append(words, strings.Fields(list)...)
		}
	}
	slices.Sort(words)
	return slices.Compact(words)
}

// reservedPrefixes returns the prefixes a dialect forbids at the start of a
// column name, lower case. BigQuery reserves _TABLE_, _FILE_, _PARTITION,
// _ROW_TIMESTAMP, __ROOT__ and _COLIDENTIFIER
// (cloud.google.com/bigquery/docs/schemas#column_names).
func reservedPrefixes(dialect string) []string {
	switch dialect {
	case "postgres", "duckdb", "snowflake", "redshift", "synapse":
		return nil
	}
	return []string{"_table_", "_file_", "_partition", "_row_timestamp", "__root__", "_colidentifier"}
}
