package nbformat

import (
	"encoding/json"
	"fmt"
)

// MetadataField returns the raw value of the cell metadata field key.
func (c *Cell) MetadataField(key string) (json.RawMessage, bool) {
	m, err := objectFields(c.Metadata)
	if err != nil {
		return nil, false
	}
	v, ok := m[key]
	return v, ok
}

// SetMetadataField sets the cell metadata field key to v (marshaled to JSON;
// a json.RawMessage is taken as is), keeping the other fields' values.
func (c *Cell) SetMetadataField(key string, v any) error {
	m, err := objectFields(c.Metadata)
	if err != nil {
		return fmt.Errorf("nbformat: cell %s metadata: %w", c.ID, err)
	}
	raw, ok := v.(json.RawMessage)
	if !ok {
		if raw, err = marshal(v); err != nil {
			return fmt.Errorf("nbformat: cell %s metadata %s: %w", c.ID, key, err)
		}
	}
	m[key] = raw
	c.Metadata = mustMarshal(m)
	return nil
}

// DeleteMetadataField removes the cell metadata field key, if present.
func (c *Cell) DeleteMetadataField(key string) {
	m, err := objectFields(c.Metadata)
	if err != nil {
		return
	}
	if _, ok := m[key]; ok {
		delete(m, key)
		c.Metadata = mustMarshal(m)
	}
}

func objectFields(raw json.RawMessage) (map[string]json.RawMessage, error) {
	m := map[string]json.RawMessage{}
	if len(raw) == 0 {
		return m, nil
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	if m == nil { // "null"
		m = map[string]json.RawMessage{}
	}
	return m, nil
}

// Nbgrader is the nbgrader cell metadata (schema version 3), stored under
// the cell metadata key "nbgrader".
type Nbgrader struct {
	Grade         bool    `json:"grade"`
	Solution      bool    `json:"solution"`
	Locked        bool    `json:"locked"`
	Task          bool    `json:"task"`
	GradeID       string  `json:"grade_id"`
	Points        float64 `json:"points,omitempty"`
	SchemaVersion int     `json:"schema_version"`
	Checksum      string  `json:"checksum,omitempty"`
	// CellType is the cell type nbgrader recorded when it computed the
	// checksum (nbgrader uses it to detect changed cell types).
	CellType string `json:"cell_type,omitempty"`
}

// Nbgrader returns the cell's nbgrader metadata; ok is false when the cell
// has none. An error means the field is there but not nbgrader metadata.
func (c *Cell) Nbgrader() (nb *Nbgrader, ok bool, err error) {
	raw, ok := c.MetadataField("nbgrader")
	if !ok {
		return nil, false, nil
	}
	nb = &Nbgrader{}
	if err := json.Unmarshal(raw, nb); err != nil {
		return nil, true, fmt.Errorf("nbformat: cell %s: nbgrader metadata: %w", c.ID, err)
	}
	return nb, true, nil
}

// SetNbgrader sets the cell's nbgrader metadata, keeping other metadata.
// A nil nb removes it.
func (c *Cell) SetNbgrader(nb *Nbgrader) error {
	if nb == nil {
		c.DeleteMetadataField("nbgrader")
		return nil
	}
	return c.SetMetadataField("nbgrader", nb)
}
