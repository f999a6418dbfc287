package modlog

// SetSettleFault makes every write of a row's outcome ask f first, inside the settling
// transaction: an error from f fails that transaction. Set it before Run.
func SetSettleFault(s *Service, f func(caseID int64) error) { s.settleFault = f }
